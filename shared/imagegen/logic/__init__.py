"""Use cases. Handlers call one function here; these call dal and providers."""
