from keras_hsru.layers.analog_only import AnalogOnlyCell
from keras_hsru.layers.hsru import HSRU, HSRUCell

__all__ = ["HSRU", "AnalogOnlyCell", "HSRUCell"]
