"""The cronops views (Problems, Jobs, Hosts) and the screens pushed over them (detail, help).

Each view is a list of columns over rows the app reads from the history."""
