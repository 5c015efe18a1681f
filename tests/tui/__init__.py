"""Tests of the coordinator client: pure rules, settings, and Pilot tests with a fake gateway."""
