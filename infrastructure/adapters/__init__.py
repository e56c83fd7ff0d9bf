"""Adapters that put ctxstore where agents already run (each an optional extra): the OpenAI
Agents SDK's session (`openai_agents`); framework ids mapped to agent ids (`agent_ids`)."""
