"""The hooks function: routes in imagegen.api.hook_routes. POST /api/hooks/{source} has no
authorizer (a CMS signs its webhooks instead); the secret routes are behind the JWT authorizer."""

from imagegen.api.hook_routes import router
from imagegen.api.http import http_function

lambda_handler = http_function(router)
