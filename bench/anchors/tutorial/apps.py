from django.apps import AppConfig


class TutorialConfig(AppConfig):
    name = "bench.anchors.tutorial"
    label = "tutorial"
