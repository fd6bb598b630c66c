"""Code the Rasa server loads by its module path from endpoints.yml (Rasa runs with PYTHONPATH=.):
the tracker store (tracker_store.py). The action server's plugins are in rasa_sdk_plugins/."""
