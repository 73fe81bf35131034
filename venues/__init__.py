"""Exchange wire code: only modules under ``venues/<venue>/`` know a venue's payload keys."""
