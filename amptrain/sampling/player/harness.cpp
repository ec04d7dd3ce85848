// The engine without a plugin host, for tests and benchmarks: the same ampcap_engine.h and ModelData.h
// the VST3 compiles, on raw float32 files.
//   harness IN.f32 OUT.f32 HOST_RATE BLOCK [KNOBS.f32]   process IN in blocks of BLOCK samples; KNOBS
//       holds one row of knob values per block (a switch's value is its choice index; the last row
//       holds after it; none: the defaults). Prints "latency N" (host samples).
//   harness --bench SECONDS HOST_RATE BLOCK              prints "x_realtime X" for a DI of noise
#include "ModelData.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace
{
std::vector<float> readFloats (const char* path)
{
    std::vector<float> v;
    if (FILE* f = std::fopen (path, "rb"))
    {
        float buf[4096];
        size_t n;
        while ((n = std::fread (buf, sizeof (float), 4096, f)) > 0)
            v.insert (v.end(), buf, buf + n);
        std::fclose (f);
    }
    return v;
}

std::vector<float> defaults()
{
    std::vector<float> v;
    for (int i = 0; i < ampcap_model::kNumKnobs; ++i)
    {
        const auto& k = ampcap_model::kKnobs[i];
        v.push_back (k.discrete ? (float) k.defaultChoice : (float) k.def);
    }
    return v;
}
}  // namespace

int main (int argc, char** argv)
{
    const bool bench = argc >= 2 && std::string (argv[1]) == "--bench";
    if ((bench && argc != 5) || (! bench && argc < 5))
    {
        std::fprintf (stderr, "usage: harness IN.f32 OUT.f32 HOST_RATE BLOCK [KNOBS.f32] | --bench SECONDS HOST_RATE BLOCK\n");
        return 2;
    }
    const double rate = std::atof (argv[3]);
    const int block = std::atoi (argv[4]);
    std::vector<float> x, knobs;
    if (bench)
    {
        x.resize ((size_t) (std::atof (argv[2]) * rate));
        uint32_t s = 1;
        for (auto& v : x) { s = s * 1664525u + 1013904223u; v = 0.3f * ((float) (s >> 8) / 16777216.0f - 0.5f); }
    }
    else
    {
        x = readFloats (argv[1]);
        if (argc > 5)
            knobs = readFloats (argv[5]);
    }
    const int nk = ampcap_model::kNumKnobs;
    if (knobs.empty())
        knobs = defaults();
    const size_t rows = nk ? knobs.size() / (size_t) nk : 1;

    ampcap::Player player;
    player.init (ampcap_model::weights(), ampcap_model::kSmoothMs);
    player.prepare (rate);
    std::vector<float> features ((size_t) player.features() + 1), y (x.size());
    auto targets = [&] (size_t b) {
        const size_t r = std::min (b, rows - 1);
        ampcap::knobFeatures (ampcap_model::kKnobs, nk, knobs.data() + r * (size_t) nk, features.data());
    };
    targets (0);
    player.reset (features.data());
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t start = 0, b = 0; start < x.size(); start += (size_t) block, ++b)
    {
        targets (b);
        player.setTargets (features.data());
        const int n = (int) std::min ((size_t) block, x.size() - start);
        player.process (x.data() + start, y.data() + start, n);
    }
    const double secs = std::chrono::duration<double> (std::chrono::steady_clock::now() - t0).count();
    if (bench)
    {
        std::printf ("x_realtime %.1f\n", (double) x.size() / rate / secs);
        return 0;
    }
    if (FILE* f = std::fopen (argv[2], "wb"))
    {
        std::fwrite (y.data(), sizeof (float), y.size(), f);
        std::fclose (f);
    }
    else
        return 1;
    std::printf ("latency %d\n", player.latency());
    return 0;
}
