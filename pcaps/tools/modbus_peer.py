#!/usr/bin/env python3
"""MODBUS/TCP server and client (pymodbus), for cleartrace test captures.

  modbus_peer.py server PORT   serve one unit (id 1) on 127.0.0.1:PORT until SIGTERM:
                               holding registers 0..9 = 230, 1, 0, 21, 55, 0, 0, 0, 0, 0
                               (as an event manager's I/O block: mains voltage, relay
                               state, alarm flag, temperature, humidity)
  modbus_peer.py client PORT   connect to 127.0.0.1:PORT, unit 1, and do four transactions:
                               read holding registers 0-4 (FC 3), write single register
                               2 = 1 (FC 6, "raise alarm"), read holding registers 0-4,
                               write single register 2 = 0; then close.  Exits 1 if any
                               answer is an exception or unexpected.

Needs pymodbus (3.6.x API: slave=, StartTcpServer(context=, address=)).
"""
import logging
import signal
import sys


def server(port):
    from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                    ModbusSlaveContext)
    from pymodbus.server import StartTcpServer

    hr = ModbusSequentialDataBlock(0, [230, 1, 0, 21, 55, 0, 0, 0, 0, 0])
    store = ModbusSlaveContext(hr=hr, zero_mode=True)
    context = ModbusServerContext(slaves={1: store}, single=False)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    StartTcpServer(context=context, address=("127.0.0.1", port))


def client(port):
    from pymodbus.client import ModbusTcpClient

    c = ModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
    if not c.connect():
        sys.exit("modbus_peer: cannot connect")
    got = []
    r = c.read_holding_registers(0, 5, slave=1)
    got.append(("read", None if r.isError() else list(r.registers)))
    r = c.write_register(2, 1, slave=1)
    got.append(("write", None if r.isError() else (r.address, r.value)))
    r = c.read_holding_registers(0, 5, slave=1)
    got.append(("read", None if r.isError() else list(r.registers)))
    r = c.write_register(2, 0, slave=1)
    got.append(("write", None if r.isError() else (r.address, r.value)))
    c.close()
    for g in got:
        print("modbus_peer:", *g, file=sys.stderr)
    want = [("read", [230, 1, 0, 21, 55]), ("write", (2, 1)),
            ("read", [230, 1, 1, 21, 55]), ("write", (2, 0))]
    if got != want:
        sys.exit("modbus_peer: unexpected answers")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("server", "client"):
        sys.exit("usage: modbus_peer.py server|client PORT")
    logging.basicConfig(level=logging.WARNING)
    port = int(sys.argv[2])
    server(port) if sys.argv[1] == "server" else client(port)


if __name__ == "__main__":
    main()
