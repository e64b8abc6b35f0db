"""The API's request and response bodies, one module per resource (apart from the DB models).

``fields`` holds the constrained types several bodies share (ids, colours, seeds).
"""
