"""Wiring of the advisory graph; the nodes live in agents/.

guard -> supervisor -> [spending | credit | sentiment | retrieve] in parallel (Send)
      -> products? -> compliance? -> composer -> critic -> (revise once) -> END
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from agents.compliance import compliance_node
from agents.answer import composer_node
from agents.credit import credit_node
from agents.critic import critic_node, revise_node
from agents.guard import guard_node
from agents.products import products_node
from agents.retrieve import retrieve_node
from agents.sentiment import sentiment_node
from agents.spending import spending_node
from agents.supervisor import supervisor_node
from graph.context import AdvisorServices
from graph.state import AdvisorState

PARALLEL_SPECIALISTS = ("spending", "credit", "sentiment")
PRODUCT_PREREQUISITES = ("spending", "credit", "sentiment")


def agents_to_run(state: AdvisorState) -> list[str]:
    """The routed agents plus what they stand on: offers need the three analyses."""
    route = state["route"]
    wanted = set(route.agents)
    if state.get("customer_id") is None:
        return []
    if "products" in wanted:
        wanted |= {"compliance", *PRODUCT_PREREQUISITES}
    return [a for a in ("spending", "credit", "sentiment", "products", "compliance") if a in wanted]


def fan_out(state: AdvisorState) -> list[Send]:
    sends = [Send("retrieve", state)]
    sends += [Send(name, state) for name in agents_to_run(state) if name in PARALLEL_SPECIALISTS]
    return sends


def after_analysis(state: AdvisorState) -> str:
    agents = agents_to_run(state)
    if "products" in agents:
        return "products"
    if "compliance" in agents:
        return "compliance"
    return "composer"


def after_critic(state: AdvisorState) -> str:
    return "revise" if state["critic"].verdict == "revised" and state.get("revisions", 0) == 0 else END


def build_graph(checkpointer=None):
    graph = StateGraph(AdvisorState, context_schema=AdvisorServices)
    graph.add_node("guard", guard_node)
    graph.add_node("supervisor", supervisor_node)
    graph.add_node("retrieve", retrieve_node)
    graph.add_node("spending", spending_node)
    graph.add_node("credit", credit_node)
    graph.add_node("sentiment", sentiment_node)
    graph.add_node("join", lambda state: {})
    graph.add_node("products", products_node)
    graph.add_node("compliance", compliance_node)
    graph.add_node("composer", composer_node)
    graph.add_node("critic", critic_node)
    graph.add_node("revise", revise_node)

    graph.add_edge(START, "guard")
    graph.add_edge("guard", "supervisor")
    graph.add_conditional_edges("supervisor", fan_out, ["retrieve", *PARALLEL_SPECIALISTS])
    for name in ("retrieve", *PARALLEL_SPECIALISTS):
        graph.add_edge(name, "join")
    graph.add_conditional_edges("join", after_analysis, ["products", "compliance", "composer"])
    graph.add_edge("products", "compliance")
    graph.add_edge("compliance", "composer")
    graph.add_edge("composer", "critic")
    graph.add_conditional_edges("critic", after_critic, ["revise", END])
    graph.add_edge("revise", "critic")
    return graph.compile(checkpointer=checkpointer, name="advisor")
