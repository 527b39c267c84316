"""The webhooks function: routes in imagegen.api.webhook_routes, behind the JWT authorizer."""

from imagegen.api.http import http_function
from imagegen.api.webhook_routes import router

lambda_handler = http_function(router)
