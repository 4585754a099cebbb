"""Function app entry point: registers the blueprints and nothing else."""
import azure.functions as func

from actions.ci_actions import bp as ci_actions
from actions.connector_definition import bp as connector_definition
from actions.console_endpoints import bp as console
from actions.health_endpoint import bp as health
from actions.responses import USER_LEVEL
from triggers.delivery_functions import bp as delivery
from triggers.poll_functions import bp as polling
from triggers.subscription_endpoints import bp as subscriptions

app = func.FunctionApp(http_auth_level=USER_LEVEL)  # a function key, or in Entra mode the user's token
app.register_functions(health)
app.register_functions(ci_actions)
app.register_functions(connector_definition)
app.register_functions(subscriptions)
app.register_functions(polling)
app.register_functions(delivery)
app.register_functions(console)
