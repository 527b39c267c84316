"""The generate function: routes in imagegen.api.generate_routes, behind the JWT authorizer."""

from imagegen.api.generate_routes import router
from imagegen.api.http import http_function

lambda_handler = http_function(router)
