"""Helpers of the advisor's Chainlit app that are not business logic.

Users and roles, the Chainlit data layer, Plotly figures, the rendering of answers
into Chainlit messages and steps, and the compliance review view. Nothing here
computes a figure: every number shown comes from the answer JSON of the graph.
"""
