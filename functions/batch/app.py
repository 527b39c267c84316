"""The batch function: routes in imagegen.api.batch_routes, behind the JWT authorizer."""

from imagegen.api.batch_routes import router
from imagegen.api.http import http_function

lambda_handler = http_function(router)
