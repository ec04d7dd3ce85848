"""Using a trained model: load it (`amp.AmpModel`), render audio at any knob setting (`render`, the one
render core), automate knobs (`automation`), measure clicks (`artefacts`), export it for real-time
players (`export`), and the `sample`/`export`/`knobs` commands (`cli`). Training imports only the
render core from here (to evaluate)."""
