"""The offline demo: tiny models of the real classes with random weights, and stand-ins.

They stand in for the paper's checkpoints when no hub can be reached (the
offline demo, the tests): same classes, same on-disk format, same loading code.
"""
