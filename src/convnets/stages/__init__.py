"""One module per DVC stage: `arguments(parser)` declares its paths, `run(args, params)` runs it.

Each is thin: paths from the command line that dvc.yaml writes, typed config from params,
then the library does the work.
"""
