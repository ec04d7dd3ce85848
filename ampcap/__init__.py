"""The layer both stages share: `capture` (host a plugin, sweep its knobs, write a dataset) and
`amptrain` (train a knob-conditioned model on it, render, export) import from here and not from
each other, except where training captures a missing dataset first (capture.runner.run_sweep).

    errors      one-line user errors and their exit codes
    files       atomic writes (temp file, fsync, rename) and checksums
    dirlock     one writer per directory
    wav         the float WAVs both stages write and read
    dataset     the dataset format: manifest schema, verify, reading settings (the contract)
    knobs       knob specs and their [0, 1] normalisation
    config      Hydra composition onto the stages' dataclass schemas
    cli         guarded commands, --config-dir, aligned tables
    reportkit   pieces of the HTML listening reports
"""
