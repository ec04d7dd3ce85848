// ampcap's real-time engine: the maths of `AmpModel` (amptrain/sampling/amp.py) in C++, for the VST3
// plugin `python -m amptrain export format=vst3` builds, and for the test harness that checks it against
// the Python render sample by sample. Plain C++17, no dependencies. Allocation only in init/prepare;
// process() allocates nothing, takes no lock and does no I/O.
//
//   Model   one LSTM step per sample at the model's rate (Keras gate order i, f, c, o), with the knob
//           features (continuous: normalised, discrete: one-hot) entering by concatenation or FiLM,
//           the knob-set input drive and output level, the input skip; pre-warmed on silence
//           (`settle`, as render.py) and the output DC blocker (dc_block.py) started settled.
//   Smoother  the one-pole knob smoothing of `AmpStream` (smooth_ms), per sample on the features.
//   Polyphase a streaming copy of scipy's resample_poly (Kaiser-windowed FIR, beta 5, 10 zero
//           crossings per side): the same output, delayed by a whole number of host samples.
//   Player  host rate in, host rate out: resample to the model's rate, run the model, resample back,
//           with a constant latency (0 when the rates are equal).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(_M_X64)) && ! defined(AMPCAP_NO_DISPATCH)
#define AMPCAP_X86_DISPATCH 1
#else
#define AMPCAP_X86_DISPATCH 0
#endif
#if defined(__GNUC__) || defined(__clang__)
#define AMPCAP_ALWAYS_INLINE inline __attribute__ ((always_inline))
#define AMPCAP_RESTRICT __restrict__
#else
#define AMPCAP_ALWAYS_INLINE __forceinline
#define AMPCAP_RESTRICT __restrict
#endif

namespace ampcap
{

// ---- activations: a vectorisable float exp (Cephes' expf polynomial, ~1 ulp on [-87, 87]) --------

AMPCAP_ALWAYS_INLINE float expApprox (float x)
{
    x = x > 87.0f ? 87.0f : x;  // (compiled with -fno-trapping-math these loops vectorise)
    x = x < -87.0f ? -87.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;               // x - n ln 2 (two parts)
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t) n + 127) << 23;
    float scale;
    std::memcpy (&scale, &bits, sizeof scale);
    return e * scale;
}

// 1 / d for d >= 1 without a division (a vector division takes 5-10 cycles): a first guess from the float's
// bits, then three Newton steps (relative error ~1e-7, float precision)
AMPCAP_ALWAYS_INLINE float reciprocalApprox (float d)
{
    int32_t i;
    std::memcpy (&i, &d, sizeof i);
    i = 0x7EF311C7 - i;
    float r;
    std::memcpy (&r, &i, sizeof r);
    r = r * (2.0f - d * r);
    r = r * (2.0f - d * r);
    return r * (2.0f - d * r);
}

AMPCAP_ALWAYS_INLINE float sigmoidApprox (float x) { return reciprocalApprox (1.0f + expApprox (-x)); }
AMPCAP_ALWAYS_INLINE float tanhApprox (float x) { return 2.0f * reciprocalApprox (1.0f + expApprox (-2.0f * x)) - 1.0f; }

// ---- the weights, as the model file holds them (Keras layouts: Dense kernels are (inputs, outputs)) --

struct Weights
{
    int sampleRate = 48000;
    int hidden = 0;          // H
    int features = 0;        // knob features C (continuous knobs + one per choice of each discrete knob)
    int conditioning = 0;    // 0 none, 1 concat (features beside the audio at the LSTM input), 2 FiLM
    int filmUnits = 0;
    bool skip = false, level = false, drive = false;
    double dcBlockHz = 0.0;  // output DC blocker cutoff (0: none)
    const float* kernel = nullptr;     // (1 + C for concat, else 1) x 4H
    const float* recurrent = nullptr;  // H x 4H
    const float* bias = nullptr;       // 4H
    const float* outW = nullptr;       // H
    float outB = 0;
    const float* levelW = nullptr;     // C (level: y * exp(levelW . f + levelB))
    float levelB = 0;
    const float* driveW = nullptr;     // C (drive: x * exp(driveW . f + driveB) before the LSTM)
    float driveB = 0;
    const float* film1W = nullptr;     // C x F, then tanh
    const float* film1B = nullptr;     // F
    const float* film2W = nullptr;     // F x 2H: gamma (H), beta (H); h * (1 + gamma) + beta
    const float* film2B = nullptr;     // 2H
};

// ---- the knobs: host values -> model features (conditioning.py `encode`) ----------------------------

struct KnobSpec
{
    const char* name;
    const char* unit;
    bool discrete;
    double min, max, def;         // continuous: range and default
    int numChoices;               // discrete: its choices, the default's index
    const char* const* choices;
    int defaultChoice;
};

// values: one per knob (a discrete knob's value is its choice index) -> features (one-hot for choices)
inline void knobFeatures (const KnobSpec* knobs, int numKnobs, const float* values, float* features)
{
    int k = 0;
    for (int i = 0; i < numKnobs; ++i)
    {
        const KnobSpec& s = knobs[i];
        if (s.discrete)
        {
            const int chosen = (int) std::lround (values[i]);
            for (int c = 0; c < s.numChoices; ++c)
                features[k++] = c == chosen ? 1.0f : 0.0f;
        }
        else
            features[k++] = (float) (((double) values[i] - s.min) / (s.max - s.min));
    }
}

// ---- the model at its own rate ----------------------------------------------------------------------

class Model
{
public:
    static constexpr int kBlock = 64;             // gate rows computed together: 8 vector registers of 8 floats
    static constexpr int kWideBlock = 128;        // ... or of 16 floats, where the CPU has AVX-512
    static constexpr int kSettleBlock = 2048;     // render.py SETTLE_BLOCK
    static constexpr int kSettleMax = 96000;      // render.py SETTLE_MAX
    static constexpr float kSettleTol = 1e-6f;    // render.py SETTLE_TOL

    void init (const Weights& weights)
    {
        w = weights;
        H = w.hidden;
        C = w.features;
        G = 4 * H;
        wide = G % kWideBlock == 0 && cpuHasAvx512();  // (a size the wide blocks fit exactly: H a multiple of 32)
        block = wide ? kWideBlock : kBlock;
        Gp = (G + block - 1) / block * block;
        // the recurrent weights in blocks of `block` gate rows: for block b, row j holds U[j][b*block ...]
        ublocks.assign ((size_t) (Gp / block) * H * block, 0.0f);
        for (int b = 0; b < Gp / block; ++b)
            for (int j = 0; j < H; ++j)
                for (int k = 0; k < block; ++k)
                    if (b * block + k < G)
                        ublocks[((size_t) b * H + j) * block + k] = w.recurrent[(size_t) j * G + b * block + k];
        wx.assign ((size_t) Gp, 0.0f);
        bias.assign ((size_t) Gp, 0.0f);
        biasEff.assign ((size_t) Gp, 0.0f);
        z.assign ((size_t) Gp, 0.0f);
        for (int g = 0; g < G; ++g) { wx[(size_t) g] = w.kernel[g]; bias[(size_t) g] = w.bias[g]; }
        h.assign ((size_t) H, 0.0f);
        c.assign ((size_t) H, 0.0f);
        gamma.assign ((size_t) H, 0.0f);
        beta.assign ((size_t) H, 0.0f);
        filmHidden.assign ((size_t) std::max (1, w.filmUnits), 0.0f);
        cond.assign ((size_t) C, 0.0f);
        saveH.assign ((size_t) H, 0.0f);
        saveC.assign ((size_t) H, 0.0f);
        setFeatures (cond.data());
    }

    int features() const { return C; }
    int sampleRate() const { return w.sampleRate; }
    double dcBlockHz() const { return w.dcBlockHz; }

    // The features for the next samples: everything they set is computed once here, not per sample.
    void setFeatures (const float* f)
    {
        std::copy (f, f + C, cond.begin());
        for (int g = 0; g < Gp; ++g)
            biasEff[(size_t) g] = bias[(size_t) g];
        if (w.conditioning == 1)
            for (int k = 0; k < C; ++k)
                for (int g = 0; g < G; ++g)
                    biasEff[(size_t) g] += f[k] * w.kernel[(size_t) (1 + k) * G + g];
        driveGain = w.drive ? expDot (w.driveW, w.driveB, f) : 1.0f;
        levelGain = w.level ? expDot (w.levelW, w.levelB, f) : 1.0f;
        if (w.conditioning == 2)
        {
            const int F = w.filmUnits;
            for (int u = 0; u < F; ++u)
            {
                float a = w.film1B[u];
                for (int k = 0; k < C; ++k)
                    a += f[k] * w.film1W[(size_t) k * F + u];
                filmHidden[(size_t) u] = std::tanh (a);
            }
            for (int j = 0; j < 2 * H; ++j)
            {
                float a = w.film2B[j];
                for (int u = 0; u < F; ++u)
                    a += filmHidden[(size_t) u] * w.film2W[(size_t) u * 2 * H + j];
                (j < H ? gamma[(size_t) j] : beta[(size_t) (j - H)]) = a;
            }
        }
    }

    float step (float x)
    {
#if AMPCAP_X86_DISPATCH
        if (wide)
            return stepAvx512 (x);
#endif
        return stepSized<kBlock> (x);
    }

    // The state the model settles in on silence at features f (render.py `settle`): from zero, blocks
    // of silence until no state value moves by more than kSettleTol over a block.
    void settle (const float* f)
    {
        setFeatures (f);
        std::fill (h.begin(), h.end(), 0.0f);
        std::fill (c.begin(), c.end(), 0.0f);
        for (int block = 0; block < (kSettleMax + kSettleBlock - 1) / kSettleBlock; ++block)
        {
            std::copy (h.begin(), h.end(), saveH.begin());
            std::copy (c.begin(), c.end(), saveC.begin());
            for (int i = 0; i < kSettleBlock; ++i)
                step (0.0f);
            float moved = 0.0f;
            for (int j = 0; j < H; ++j)
                moved = std::max ({ moved, std::abs (h[(size_t) j] - saveH[(size_t) j]), std::abs (c[(size_t) j] - saveC[(size_t) j]) });
            if (moved <= kSettleTol)
                break;
        }
    }

    // The output on silence from the current state, the state left as it is (render.py `settled_offset`).
    float silentOutput()
    {
        std::copy (h.begin(), h.end(), saveH.begin());
        std::copy (c.begin(), c.end(), saveC.begin());
        const float y = step (0.0f);
        std::copy (saveH.begin(), saveH.end(), h.begin());
        std::copy (saveC.begin(), saveC.end(), c.begin());
        return y;
    }

private:
#if AMPCAP_X86_DISPATCH
    __attribute__ ((target ("avx512f,avx512vl,avx2,fma"))) float stepAvx512 (float x) { return stepSized<kWideBlock> (x); }
    static bool cpuHasAvx512() { return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512vl"); }
#else
    static bool cpuHasAvx512() { return false; }
#endif

    // One LSTM step, its gate rows in blocks of B (inlined into each instruction set's caller, so the
    // compiler vectorises it for that set)
    template <int B, int HH>
    AMPCAP_ALWAYS_INLINE float stepT (float x)
    {
        const int Hn = HH > 0 ? HH : H;  // a compile-time size: loops without remainders or alias checks
        const float xin = x * driveGain;
        float* AMPCAP_RESTRICT zz = z.data();
        float* AMPCAP_RESTRICT hh = h.data();
        float* AMPCAP_RESTRICT cc = c.data();
        for (int b = 0; b < (4 * Hn + B - 1) / B; ++b)
            gateBlock<B, HH> (b, xin, zz + b * B);
        for (int g = 0; g < 2 * Hn; ++g)       // input and forget gates
            zz[g] = sigmoidApprox (zz[g]);
        for (int g = 2 * Hn; g < 3 * Hn; ++g)  // cell candidate
            zz[g] = tanhApprox (zz[g]);
        for (int g = 3 * Hn; g < 4 * Hn; ++g)  // output gate
            zz[g] = sigmoidApprox (zz[g]);
        for (int j = 0; j < Hn; ++j)
        {
            const float cj = zz[Hn + j] * cc[j] + zz[j] * zz[2 * Hn + j];
            cc[j] = cj;
            hh[j] = zz[3 * Hn + j] * tanhApprox (cj);
        }
        float y = w.outB;
        const float* AMPCAP_RESTRICT ow = w.outW;
        if (w.conditioning == 2)
            for (int j = 0; j < Hn; ++j)
                y += ow[j] * (hh[j] * (1.0f + gamma[(size_t) j]) + beta[(size_t) j]);
        else
            for (int j = 0; j < Hn; ++j)
                y += ow[j] * hh[j];
        y *= levelGain;
        return w.skip ? y + x : y;
    }

    // The step for this model's size: compiled for the common sizes, any other size at run time.
    template <int B>
    AMPCAP_ALWAYS_INLINE float stepSized (float x)
    {
        switch (H)
        {
            case 8: return stepT<B, 8> (x);
            case 16: return stepT<B, 16> (x);
            case 32: return stepT<B, 32> (x);
            case 40: return stepT<B, 40> (x);
            case 48: return stepT<B, 48> (x);
            case 64: return stepT<B, 64> (x);
            default: return stepT<B, 0> (x);
        }
    }

#if defined(__GNUC__) || defined(__clang__)
    // B gate rows as 8 vectors held in registers over the H recurrent inputs: 8 independent multiply-add
    // chains keep two FMA units busy (8 floats a vector on AVX2, 16 on AVX-512; SSE/NEON split them)
    template <int B, int HH>
    AMPCAP_ALWAYS_INLINE void gateBlock (int b, float xin, float* out) const
    {
        const int Hn = HH > 0 ? HH : H;
        typedef float Vec __attribute__ ((vector_size (B / 2)));  // B / 8 floats of 4 bytes
        constexpr int L = B / 8;
        Vec acc[8];
        const float* bb = biasEff.data() + b * B;
        const float* xx = wx.data() + b * B;
        for (int v = 0; v < 8; ++v)
        {
            Vec bv, xv;
            std::memcpy (&bv, bb + L * v, sizeof bv);
            std::memcpy (&xv, xx + L * v, sizeof xv);
            acc[v] = bv + xin * xv;
        }
        const float* u = ublocks.data() + (size_t) b * Hn * B;
        for (int j = 0; j < Hn; ++j, u += B)
        {
            const float hj = h[(size_t) j];
            for (int v = 0; v < 8; ++v)
            {
                Vec uv;
                std::memcpy (&uv, u + L * v, sizeof uv);
                acc[v] += hj * uv;
            }
        }
        std::memcpy (out, acc, sizeof acc);
    }
#else
    template <int B, int HH>
    void gateBlock (int b, float xin, float* out) const  // portable: the same sums, left to the compiler
    {
        float acc[B];
        const float* bb = biasEff.data() + b * B;
        const float* xx = wx.data() + b * B;
        for (int k = 0; k < B; ++k)
            acc[k] = bb[k] + xin * xx[k];
        const float* u = ublocks.data() + (size_t) b * H * B;
        for (int j = 0; j < H; ++j, u += B)
            for (int k = 0; k < B; ++k)
                acc[k] += h[(size_t) j] * u[k];
        std::copy (acc, acc + B, out);
    }
#endif

    float expDot (const float* v, float b, const float* f) const
    {
        float a = b;
        for (int k = 0; k < C; ++k)
            a += v[k] * f[k];
        return std::exp (a);
    }

    Weights w;
    int H = 0, C = 0, G = 0, Gp = 0, block = kBlock;
    bool wide = false;  // AVX-512 kernels (x86-64 CPUs that have it), chosen at init
    std::vector<float> ublocks, wx, bias, biasEff, z, h, c, gamma, beta, filmHidden, cond, saveH, saveC;
    float driveGain = 1.0f, levelGain = 1.0f;
};

// ---- the output DC blocker: H(z) = g (1 - z^-1) / (1 - r z^-1), in double (dc_block.py) -----------

struct DcBlocker
{
    double g = 1, r = 0, z = 0;
    bool on = false;

    void prepare (double cutoffHz, double sampleRate)
    {
        on = cutoffHz > 0;
        r = std::exp (-2.0 * 3.14159265358979323846 * cutoffHz / sampleRate);
        g = 0.5 * (1.0 + r);
        z = 0;
    }
    void settleAt (double offset) { z = -g * offset; }  // lfilter_zi: as if the input had been `offset` forever
    float process (float xf)
    {
        if (! on)
            return xf;
        const double x = xf, y = g * x + z;
        z = -g * x + r * y;
        return (float) y;
    }
};

// ---- knob smoothing: AmpStream's one-pole on the features, per sample, from the last block's end ----

struct Smoother
{
    std::vector<double> state;
    std::vector<float> target, current;
    double a = 0;
    bool moving = false;

    void prepare (int features, double sampleRate, double ms)
    {
        state.assign ((size_t) features, 0.0);
        target.assign ((size_t) features, 0.0f);
        current.assign ((size_t) features, 0.0f);
        a = ms > 0 ? std::exp (-1000.0 / (ms * sampleRate)) : 0.0;
        moving = false;
    }
    void jumpTo (const float* f)
    {
        for (size_t k = 0; k < target.size(); ++k)
        {
            target[k] = current[k] = f[k];
            state[k] = f[k];
        }
        moving = false;
    }
    // a new target at a block's start; the state continues from the float32 value the last block ended on
    void setTarget (const float* f)
    {
        for (size_t k = 0; k < target.size(); ++k)
        {
            state[k] = (double) current[k];
            target[k] = f[k];
            if (current[k] != target[k])
                moving = true;
        }
    }
    // one sample: true when the features changed
    bool next()
    {
        if (! moving)
            return false;
        bool changed = false, settled = true;
        for (size_t k = 0; k < target.size(); ++k)
        {
            state[k] = (1.0 - a) * (double) target[k] + a * state[k];
            const float v = (float) state[k];
            changed = changed || v != current[k];
            current[k] = v;
            settled = settled && v == target[k];
        }
        moving = ! settled;
        return changed;
    }
};

// ---- scipy.signal.resample_poly as a stream --------------------------------------------------------

inline double besselI0 (double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 200; ++k)
    {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        if (term < 1e-17 * sum)
            break;
    }
    return sum;
}

inline int64_t gcd64 (int64_t a, int64_t b) { while (b) { const int64_t t = a % b; a = b; b = t; } return a; }

inline int64_t floorDiv (int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

class Polyphase
{
public:
    // rates in Hz; the filter is resample_poly's: firwin(2 * 10 * max(up, down) + 1, 1 / max(up, down),
    // window=('kaiser', 5.0)) * up, pre-padded so that output n lines up with input n * down / up
    void prepare (int fromRate, int toRate, int maxHistory)
    {
        const int64_t g = gcd64 (fromRate, toRate);
        up = toRate / g;
        down = fromRate / g;
        const int64_t maxRate = std::max (up, down), halfLen = 10 * maxRate, n = 2 * halfLen + 1;
        const double fc = 1.0 / (double) maxRate, beta = 5.0;
        taps.assign ((size_t) n, 0.0);
        double sum = 0.0;
        for (int64_t k = 0; k < n; ++k)
        {
            const double m = (double) k - (double) (n - 1) / 2.0, xm = fc * m;
            const double sinc = xm == 0.0 ? 1.0 : std::sin (3.14159265358979323846 * xm) / (3.14159265358979323846 * xm);
            const double t = 2.0 * (double) k / (double) (n - 1) - 1.0;
            const double win = besselI0 (beta * std::sqrt (std::max (0.0, 1.0 - t * t))) / besselI0 (beta);
            taps[(size_t) k] = fc * sinc * win;
            sum += taps[(size_t) k];
        }
        for (auto& t : taps)
            t = t / sum * (double) up;
        prePad = down - halfLen % down;
        preRemove = (halfLen + prePad) / down;
        ring.assign ((size_t) nextPow2 (maxHistory + (int) (n / up) + 4), 0.0f);
        mask = (int64_t) ring.size() - 1;
        reset();
    }

    void reset()
    {
        std::fill (ring.begin(), ring.end(), 0.0f);
        received = 0;
        produced = 0;
    }

    // the last input index output j needs
    int64_t needs (int64_t j) const { return floorDiv ((j + preRemove) * down, up); }

    void push (float x) { ring[(size_t) (received++ & mask)] = x; }
    bool ready() const { return needs (produced) <= received - 1; }

    float pull()
    {
        const int64_t m = (produced++ + preRemove) * down;  // in the upsampled grid
        double acc = 0.0;
        for (int64_t i = floorDiv (m, up); i >= 0; --i)
        {
            const int64_t k = m - i * up - prePad;       // tap index into the unpadded filter
            if (k >= (int64_t) taps.size())
                break;
            if (k >= 0)
                acc += (double) ring[(size_t) (i & mask)] * taps[(size_t) k];
        }
        return (float) acc;
    }

    int64_t up = 1, down = 1;

private:
    static int nextPow2 (int n) { int p = 1; while (p < n) p <<= 1; return p; }

    std::vector<double> taps;
    std::vector<float> ring;
    int64_t prePad = 0, preRemove = 0, mask = 0, received = 0, produced = 0;
};

// ---- the player: host rate in and out --------------------------------------------------------------

class Player
{
public:
    void init (const Weights& w, double smoothMs)
    {
        model.init (w);
        smoothingMs = smoothMs;
    }

    int features() const { return model.features(); }
    int latency() const { return latencySamples; }

    // Allocates: call outside the audio thread (prepareToPlay).
    void prepare (double hostRate)
    {
        const int host = (int) std::lround (hostRate);
        resampling = host != model.sampleRate();
        smoother.prepare (model.features(), model.sampleRate(), smoothingMs);
        dc.prepare (model.dcBlockHz(), model.sampleRate());
        latencySamples = 0;
        if (resampling)
        {
            toModel.prepare (host, model.sampleRate(), 64);
            toHost.prepare (model.sampleRate(), host, 64);
            int64_t worst = 0;  // the host samples output n waits for, beyond n (over many periods)
            for (int64_t n = 0; n < 4 * (toHost.up + toHost.down) + 64; ++n)
                worst = std::max (worst, toModel.needs (toHost.needs (n)) - n);
            latencySamples = (int) std::max<int64_t> (0, worst);
        }
        fifo.assign ((size_t) (latencySamples + 64) * 4 + 4096, 0.0f);
    }

    // Pre-warm at the features f: the model settled on silence, the DC blocker settled on its offset,
    // the smoother at f, the resamplers and the latency line empty.
    void reset (const float* f)
    {
        smoother.jumpTo (f);
        model.settle (f);
        dc.prepare (model.dcBlockHz(), model.sampleRate());
        dc.settleAt (model.silentOutput());
        toModel.reset();
        toHost.reset();
        std::fill (fifo.begin(), fifo.end(), 0.0f);
        written = read = 0;
        hostIn = 0;
    }

    // The knob features for this block (smoothed from where the last block ended).
    void setTargets (const float* f) { smoother.setTarget (f); }

    void process (const float* in, float* out, int n)
    {
        if (! resampling)
        {
            for (int i = 0; i < n; ++i)
                out[i] = modelSample (in[i]);
            return;
        }
        const int64_t fifoSize = (int64_t) fifo.size();
        for (int i = 0; i < n; ++i)
        {
            toModel.push (in[i]);
            while (toModel.ready())
            {
                toHost.push (modelSample (toModel.pull()));
                while (toHost.ready())
                    fifo[(size_t) (written++ % fifoSize)] = toHost.pull();
            }
            const int64_t t = hostIn++;
            out[i] = t < latencySamples ? 0.0f : fifo[(size_t) (read++ % fifoSize)];
        }
    }

private:
    float modelSample (float x)
    {
        if (smoother.next())
            model.setFeatures (smoother.current.data());
        return dc.process (model.step (x));
    }

    Model model;
    Smoother smoother;
    DcBlocker dc;
    Polyphase toModel, toHost;
    std::vector<float> fifo;
    double smoothingMs = 20.0;
    int latencySamples = 0;
    bool resampling = false;
    int64_t written = 0, read = 0, hostIn = 0;
};

}  // namespace ampcap
