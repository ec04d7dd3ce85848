// An ampcap model as a VST3 plugin: every knob of the model is a host parameter (a switch a choice
// parameter), the model plays at the host's rate (resampled inside, the latency reported), knob moves are
// smoothed per sample as AmpModel's smooth_ms, the state pre-warmed on prepare, reset and a restored session
// at the knobs of the first block that follows (no start-up bump).
// Mono in (a stereo input is mixed to mono), the amp's output on every output channel. All the maths is
// ampcap_engine.h, the same the tests check against the Python render; this file only hosts it. The audio
// callback allocates nothing, takes no lock and does no I/O.
#include <juce_audio_processors/juce_audio_processors.h>

#include "ModelData.h"

#include <atomic>
#include <vector>

namespace
{
juce::String paramId (int i) { return juce::String (ampcap_model::kKnobs[i].name).retainCharacters (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"); }

constexpr int kMaxInputChannels = 2;
}  // namespace

class AmpcapPlayerProcessor : public juce::AudioProcessor
{
public:
    AmpcapPlayerProcessor()
        : AudioProcessor (BusesProperties().withInput ("Input", juce::AudioChannelSet::stereo(), true)
                                           .withOutput ("Output", juce::AudioChannelSet::stereo(), true)),
          params (*this, nullptr, "AmpcapPlayer", layout())
    {
        for (int i = 0; i < ampcap_model::kNumKnobs; ++i)
            values.push_back (params.getRawParameterValue (paramId (i)));
        player.init (ampcap_model::weights(), ampcap_model::kSmoothMs);
        knobValues.assign ((size_t) ampcap_model::kNumKnobs + 1, 0.0f);
        features.assign ((size_t) player.features() + 1, 0.0f);
    }

    static juce::AudioProcessorValueTreeState::ParameterLayout layout()
    {
        using namespace juce;
        AudioProcessorValueTreeState::ParameterLayout l;
        for (int i = 0; i < ampcap_model::kNumKnobs; ++i)
        {
            const auto& k = ampcap_model::kKnobs[i];
            if (k.discrete)
            {
                StringArray choices;
                for (int c = 0; c < k.numChoices; ++c)
                    choices.add (k.choices[c]);
                l.add (std::make_unique<AudioParameterChoice> (ParameterID { paramId (i), 1 }, k.name, choices, k.defaultChoice));
            }
            else
                l.add (std::make_unique<AudioParameterFloat> (ParameterID { paramId (i), 1 }, k.name,
                                                              NormalisableRange<float> ((float) k.min, (float) k.max), (float) k.def,
                                                              AudioParameterFloatAttributes().withLabel (k.unit)
                                                                  .withStringFromValueFunction ([] (float v, int) { return String (v, 4); })
                                                                  .withValueFromStringFunction ([] (const String& t) { return t.getFloatValue(); })));
        }
        return l;
    }

    const juce::String getName() const override { return ampcap_model::kName; }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    const juce::String getProgramName (int) override { return "Default"; }
    void changeProgramName (int, const juce::String&) override {}
    bool hasEditor() const override { return true; }
    juce::AudioProcessorEditor* createEditor() override { return new juce::GenericAudioProcessorEditor (*this); }

    bool isBusesLayoutSupported (const BusesLayout& l) const override
    {
        auto ok = [] (const juce::AudioChannelSet& s) { return s == juce::AudioChannelSet::mono() || s == juce::AudioChannelSet::stereo(); };
        return ok (l.getMainInputChannelSet()) && ok (l.getMainOutputChannelSet());
    }

    void prepareToPlay (double sampleRate, int maximumBlockSize) override
    {
        player.prepare (sampleRate);
        setLatencySamples (player.latency());
        mono.assign ((size_t) juce::jmax (1, maximumBlockSize), 0.0f);
        dryDelay.assign ((size_t) juce::jmax (1, player.latency()), 0.0f);
        dryPos = 0;
        prewarm();
    }

    // A host's reset, or knobs restored with a session: the next block starts pre-warmed at its knobs (done
    // there, on the audio thread, so it never races a block being processed; it allocates nothing)
    void reset() override { prewarmPending.store (true); }

    void releaseResources() override {}

    void processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) override
    {
        juce::ScopedNoDenormals noDenormals;
        const int n = buffer.getNumSamples();
        if (n > (int) mono.size())  // a host that sends more than it announced: in pieces of the prepared size
        {
            for (int start = 0; start < n; start += (int) mono.size())
            {
                const int len = juce::jmin ((int) mono.size(), n - start);
                juce::AudioBuffer<float> part (buffer.getArrayOfWritePointers(), buffer.getNumChannels(), start, len);
                juce::MidiBuffer none;
                processBlock (part, none);
            }
            return;
        }
        readFeatures();
        if (prewarmPending.exchange (false))
            player.reset (features.data());
        player.setTargets (features.data());
        mixToMono (buffer, n);
        for (int i = 0; i < n; ++i)  // the dry line stays current, for a seamless bypass
            pushDry (mono[(size_t) i]);
        player.process (mono.data(), mono.data(), n);
        for (int ch = 0; ch < buffer.getNumChannels(); ++ch)
            buffer.copyFrom (ch, 0, mono.data(), n);
    }

    // Bypassed: the input, delayed by the reported latency (the host keeps tracks aligned either way).
    void processBlockBypassed (juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) override
    {
        const int n = juce::jmin (buffer.getNumSamples(), (int) mono.size());
        mixToMono (buffer, n);
        for (int i = 0; i < n; ++i)
            mono[(size_t) i] = pushDry (mono[(size_t) i]);
        for (int ch = 0; ch < buffer.getNumChannels(); ++ch)
            buffer.copyFrom (ch, 0, mono.data(), n);
    }

    void getStateInformation (juce::MemoryBlock& dest) override
    {
        if (auto xml = params.copyState().createXml())
            copyXmlToBinary (*xml, dest);
    }

    void setStateInformation (const void* data, int size) override
    {
        if (auto xml = getXmlFromBinary (data, size))
            if (xml->hasTagName (params.state.getType()))
            {
                params.replaceState (juce::ValueTree::fromXml (*xml));
                prewarmPending.store (true);
            }
    }

private:
    void readFeatures()
    {
        for (int i = 0; i < ampcap_model::kNumKnobs; ++i)
            knobValues[(size_t) i] = values[(size_t) i]->load();
        ampcap::knobFeatures (ampcap_model::kKnobs, ampcap_model::kNumKnobs, knobValues.data(), features.data());
    }

    void prewarm()
    {
        readFeatures();
        player.reset (features.data());
    }

    void mixToMono (const juce::AudioBuffer<float>& buffer, int n)
    {
        const int inputs = juce::jmin (getTotalNumInputChannels(), buffer.getNumChannels(), kMaxInputChannels);
        for (int i = 0; i < n; ++i)
            mono[(size_t) i] = 0.0f;
        for (int ch = 0; ch < inputs; ++ch)
        {
            const float* x = buffer.getReadPointer (ch);
            for (int i = 0; i < n; ++i)
                mono[(size_t) i] += x[i] / (float) inputs;
        }
    }

    float pushDry (float x)  // x in, x of `latency` samples ago out
    {
        if (player.latency() == 0)
            return x;
        const float out = dryDelay[(size_t) dryPos];
        dryDelay[(size_t) dryPos] = x;
        dryPos = (dryPos + 1) % (int) dryDelay.size();
        return out;
    }

    juce::AudioProcessorValueTreeState params;
    std::vector<std::atomic<float>*> values;
    ampcap::Player player;
    std::atomic<bool> prewarmPending { false };
    std::vector<float> knobValues, features, mono, dryDelay;
    int dryPos = 0;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (AmpcapPlayerProcessor)
};

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new AmpcapPlayerProcessor(); }
