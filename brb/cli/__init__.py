"""brb's command line: thin Typer commands over the store and core."""
