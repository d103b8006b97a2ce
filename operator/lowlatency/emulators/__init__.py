"""Local stand-ins for the systems the operator talks to, reached over their real wire protocols.

They serve the test suite and the embedded ``demo``; production never imports them.
"""
