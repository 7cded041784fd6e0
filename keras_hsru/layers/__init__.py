from keras_hsru.layers.analog_only import AnalogOnlyCell
from keras_hsru.layers.attentive_hsru import AttentiveHSRU, AttentiveHSRUCell
from keras_hsru.layers.hsru import HSRU, HSRUCell

__all__ = ["HSRU", "AnalogOnlyCell", "AttentiveHSRU", "AttentiveHSRUCell", "HSRUCell"]
