from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "marketplace.keys"
    label = "keys"
