"""ganworks: what spans the three tasks for a user (the web app, `python -m ganworks.app`)."""
