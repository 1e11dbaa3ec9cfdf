"""The command line: thin over the library, one library call per command."""
