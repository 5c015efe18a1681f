"""The client's screens: login and desk."""
