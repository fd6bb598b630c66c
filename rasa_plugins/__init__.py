"""Code the Rasa server loads by its module path from endpoints.yml (Rasa runs with PYTHONPATH=.):
the tracker store (tracker_store.py); importing the package also installs action_results.py (Rasa
checks each custom action's answer against a validator built once) and policy_gate.py (TEDPolicy
predicts only when its prediction can be the one kept). The action server's plugins are in
rasa_sdk_plugins/."""
from rasa_plugins import action_results, policy_gate

action_results.install()
policy_gate.install()
