"""Glue fidelity: what Glue does for a user (crawlers, catalog, bookmarks, workflows) done by the lab
itself against the Glue API, since the emulator only stores Glue metadata and runs nothing."""
