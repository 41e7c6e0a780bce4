"""The trace importer: turns a log of real image-generation requests into a
tetriserve trace CSV (traces/README.md, "Trace format") that `tetriserve sim
--trace` replays.

Usage: python3 -m experiments.traceimport diffusiondb metadata.parquet --out T.csv [options]
       python3 -m experiments.traceimport csv log.csv --map arrival=ts,height=h,width=w,steps=n \\
           --time-format ms --out T.csv [options]
(see --help and traces/README.md, "Importing real traces").

Modules: sources (reading the input files), values (parsing their columns),
filters (which rows become requests, each drop with its reason), sizes (the
16-pixel grid and the profile's resolutions), slo (the paper's SLO table),
build (the trace rows), output (the CSV and the summary), cli (the command
line)."""
