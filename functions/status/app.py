"""The status function: routes in imagegen.api.status_routes, behind the JWT authorizer, and the web
page (imagegen.api.web_routes), public."""

from imagegen.api import web_routes
from imagegen.api.http import http_function
from imagegen.api.status_routes import router

lambda_handler = http_function(router, web_routes.router)
