"""Use cases, called by views and commands alike. A service commits; models never do."""
