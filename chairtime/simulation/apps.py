from django.apps import AppConfig


class SimulationConfig(AppConfig):
    name = "chairtime.simulation"
    label = "simulation"
