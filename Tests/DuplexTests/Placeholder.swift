import Duplex
