// One import brings Duplex and its Socket.IO server along.
@_exported import Duplex
@_exported import SocketIO
