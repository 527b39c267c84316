"""The HTTP adapter: Powertools resolvers and routers over the use cases in imagegen.logic."""
