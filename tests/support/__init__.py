"""What the tests share: servers on loopback (DNS, HTTP, TLS, SMPP), a fake modem, a test CA, unattended probes."""
