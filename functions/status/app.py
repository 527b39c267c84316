"""The status function: routes in imagegen.api.status_routes, behind the JWT authorizer."""

from imagegen.api.http import http_function
from imagegen.api.status_routes import router

lambda_handler = http_function(router)
