"""Request, response, domain and stored-item models, kept apart and mapped explicitly."""
