--
-- PostgreSQL database dump
--

\restrict 3WoMiTvOcou0fOTU4A1enQes737NtMXQl9CKXbxvZ4TrrVia3kYlUENmDvUdyIn

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: release_0e47313; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA release_0e47313;


--
-- Name: stored_event_uuid; Type: TYPE; Schema: release_0e47313; Owner: -
--

CREATE TYPE release_0e47313.stored_event_uuid AS (
	originator_id uuid,
	originator_version bigint,
	topic text,
	state bytea
);


--
-- Name: es_insert_events_uuid(release_0e47313.stored_event_uuid[]); Type: FUNCTION; Schema: release_0e47313; Owner: -
--

CREATE FUNCTION release_0e47313.es_insert_events_uuid(events release_0e47313.stored_event_uuid[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$BEGIN    SET LOCAL lock_timeout = '30s';    NOTIFY "ctxstore_events";    RETURN QUERY    INSERT INTO "release_0e47313"."ctxstore_events" AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, topic, state    FROM unnest(events)    RETURNING notification_id;END;$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: ctxstore_agents; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_agents (
    agent_id text NOT NULL,
    originator_id uuid NOT NULL,
    version bigint NOT NULL,
    created_us bigint NOT NULL,
    updated_us bigint NOT NULL,
    tenant text NOT NULL
);


--
-- Name: ctxstore_dictionaries; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_dictionaries (
    dict_id bigint NOT NULL,
    created_at timestamp with time zone NOT NULL,
    size integer NOT NULL,
    sample_count integer NOT NULL,
    data bytea NOT NULL
);


--
-- Name: ctxstore_event_ids; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_event_ids (
    event_id text NOT NULL,
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    tenant text DEFAULT 'local'::text NOT NULL
);


--
-- Name: ctxstore_events; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigint NOT NULL
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ctxstore_events_notification_id_seq; Type: SEQUENCE; Schema: release_0e47313; Owner: -
--

CREATE SEQUENCE release_0e47313.ctxstore_events_notification_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ctxstore_events_notification_id_seq; Type: SEQUENCE OWNED BY; Schema: release_0e47313; Owner: -
--

ALTER SEQUENCE release_0e47313.ctxstore_events_notification_id_seq OWNED BY release_0e47313.ctxstore_events.notification_id;


--
-- Name: ctxstore_packages; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_packages (
    package_id text NOT NULL,
    agent_id text NOT NULL,
    version bigint NOT NULL,
    event_version bigint,
    created_us bigint NOT NULL,
    meta bytea NOT NULL,
    body bytea NOT NULL,
    tenant text DEFAULT 'local'::text NOT NULL
);


--
-- Name: ctxstore_projections_agents; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_agents (
    agent_id text NOT NULL,
    version bigint NOT NULL,
    raw_bytes bigint NOT NULL,
    stored_bytes bigint NOT NULL,
    live_memories bigint NOT NULL
);


--
-- Name: ctxstore_projections_checkpoints; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_checkpoints (
    package_id text NOT NULL,
    agent_id text NOT NULL,
    session_id text,
    version bigint NOT NULL,
    label text,
    original_size_bytes bigint NOT NULL,
    compressed_size_bytes bigint NOT NULL,
    compression_ratio double precision NOT NULL,
    compression_strategy text NOT NULL,
    integrity_hash text NOT NULL,
    message_count bigint NOT NULL,
    reasoning_thread_count bigint NOT NULL,
    tool_invocation_count bigint NOT NULL,
    memory_count bigint NOT NULL,
    is_encrypted boolean NOT NULL,
    access_level text NOT NULL,
    created_us bigint NOT NULL,
    event_version bigint,
    pruned_us bigint
);


--
-- Name: ctxstore_projections_evolution; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_evolution (
    agent_id text NOT NULL,
    bucket text NOT NULL,
    start_us bigint NOT NULL,
    events bigint NOT NULL,
    messages bigint NOT NULL,
    messages_system bigint NOT NULL,
    messages_user bigint NOT NULL,
    messages_assistant bigint NOT NULL,
    messages_tool bigint NOT NULL,
    tokens bigint NOT NULL,
    reasoning_steps bigint NOT NULL,
    tool_calls bigint NOT NULL,
    tool_results bigint NOT NULL,
    tool_errors bigint NOT NULL,
    memories_stored bigint NOT NULL,
    memories_stored_short_term bigint NOT NULL,
    memories_stored_long_term bigint NOT NULL,
    memories_stored_episodic bigint NOT NULL,
    memories_stored_semantic bigint NOT NULL,
    memories_updated bigint NOT NULL,
    memories_updated_short_term bigint NOT NULL,
    memories_updated_long_term bigint NOT NULL,
    memories_updated_episodic bigint NOT NULL,
    memories_updated_semantic bigint NOT NULL,
    memories_forgotten bigint NOT NULL,
    memories_forgotten_short_term bigint NOT NULL,
    memories_forgotten_long_term bigint NOT NULL,
    memories_forgotten_episodic bigint NOT NULL,
    memories_forgotten_semantic bigint NOT NULL,
    memory_links bigint NOT NULL,
    mcp_updates bigint NOT NULL,
    checkpoints bigint NOT NULL,
    restores bigint NOT NULL,
    raw_bytes bigint NOT NULL,
    stored_bytes bigint NOT NULL,
    version bigint NOT NULL,
    live_memories bigint NOT NULL,
    total_raw_bytes bigint NOT NULL,
    total_stored_bytes bigint NOT NULL
)
WITH (fillfactor='70');


--
-- Name: ctxstore_projections_memories; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_memories (
    agent_id text NOT NULL,
    memory_id text NOT NULL,
    kind text NOT NULL
);


--
-- Name: ctxstore_projections_search; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_search (
    agent_id text NOT NULL,
    version bigint NOT NULL,
    seq integer NOT NULL,
    ts_us bigint NOT NULL,
    source text NOT NULL,
    ref text NOT NULL,
    label text NOT NULL,
    body text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, body)) STORED
);


--
-- Name: ctxstore_projections_tools; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_tools (
    agent_id text NOT NULL,
    bucket text NOT NULL,
    start_us bigint NOT NULL,
    tool text NOT NULL,
    calls bigint NOT NULL
);


--
-- Name: ctxstore_projections_tracking; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_projections_tracking (
    application_name text NOT NULL,
    notification_id bigint
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ctxstore_snapshots; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_snapshots (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ctxstore_versions; Type: TABLE; Schema: release_0e47313; Owner: -
--

CREATE TABLE release_0e47313.ctxstore_versions (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    ts_us bigint NOT NULL
);


--
-- Name: ctxstore_events notification_id; Type: DEFAULT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_events ALTER COLUMN notification_id SET DEFAULT nextval('release_0e47313.ctxstore_events_notification_id_seq'::regclass);


--
-- Data for Name: ctxstore_agents; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--

INSERT INTO release_0e47313.ctxstore_agents VALUES ('tenant-a/support-bot-1', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 8, 1767261600000000, 1796439786183984, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_agents VALUES ('tenant-a/planner', 'd36ecfbc-c315-5533-916f-f1884c090ded', 8, 1767261600000000, 1796439786213685, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_agents VALUES ('tenant-b/triage', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 8, 1767261600000000, 1796439786241463, 'tenant-b');


--
-- Data for Name: ctxstore_dictionaries; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_event_ids; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--

INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('support-bot-1-e1', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 1, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('support-bot-1-e2', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 2, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('support-bot-1-e3', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 3, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('support-bot-1-e4', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 4, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('support-bot-1-e4b', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 5, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('support-bot-1-e5', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 6, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('checkpoint-ckpt-6060f8ab19b541fba9ceae93b65423b9', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 7, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('checkpoint-ckpt-89ae90f4c09641b59f0059fca50c3f96', 'e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 8, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('planner-e1', 'd36ecfbc-c315-5533-916f-f1884c090ded', 1, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('planner-e2', 'd36ecfbc-c315-5533-916f-f1884c090ded', 2, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('planner-e3', 'd36ecfbc-c315-5533-916f-f1884c090ded', 3, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('planner-e4', 'd36ecfbc-c315-5533-916f-f1884c090ded', 4, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('planner-e4b', 'd36ecfbc-c315-5533-916f-f1884c090ded', 5, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('planner-e5', 'd36ecfbc-c315-5533-916f-f1884c090ded', 6, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('checkpoint-ckpt-5cc563099b6c454ba6806a1e8fc3941c', 'd36ecfbc-c315-5533-916f-f1884c090ded', 7, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('checkpoint-ckpt-6ff2d8646c354689af9f414435fd348c', 'd36ecfbc-c315-5533-916f-f1884c090ded', 8, 'tenant-a');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('triage-e1', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 1, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('triage-e2', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 2, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('triage-e3', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 3, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('triage-e4', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 4, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('triage-e4b', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 5, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('triage-e5', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 6, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('checkpoint-ckpt-4cc3bc336660469292cfd3bdfaa473f2', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 7, 'tenant-b');
INSERT INTO release_0e47313.ctxstore_event_ids VALUES ('checkpoint-ckpt-5fb0e27caccf4eefa22c2b90e1d8e844', 'e26fd3e3-969f-5721-bb61-8e94a49bdf88', 8, 'tenant-b');


--
-- Data for Name: ctxstore_events; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--

INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 1, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd602200450600928d281f60499c03f05db462ad4933221a21ffcb734490441176e00fdc8112054168098f9536c754af468f0befc7d234dc1f206cf1068b5f8660d2121de570f60e7c4fd036800544a539fc2582897f898d2bf0f2b66f73889197af3aaab897c847a4ea172f1b593d21dcc82aad3bd23ec7308d0664da96edebe58419db8e48a3c700c52a14812a922a9280a130e4666218d92933be9978d938e3ace1c432b3e4ea17b64e040d0097b401895dd62d24e131c779130bb3243056f93c4047554939416775a751da9a79', 1);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 2, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20ff550500924b221c6049aa03c8be88c436b1bfc457a80ba94912926ee2ee144b7449b2808791bad754af2e87bf5920dac8804042249ec5478c822892c6388295d77ddd3b7071bc1a0a2f66f189547d61e543635d9c6e12ee6264f619988d0f428306a45997ee6b65d6d6ba13e97218e0a8830ad231e8188274526eb2e5e2a76d7d9359791d1abb7c508645aebe68eb430b0032d9f036e11a4f0ce7e35a98a07d1ea0a3aaa49ca0b3bad3286dcd3c', 2);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 3, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd600c00750500f20a211d5049e30688a0bc782d42a20d0adf5e6254d59321de966df18ccccc6008c911eb32e6647eb9de0e9c074bb16068cdd6355e6eb0566cc9ca0c5e8e1a96af7cdbac8eb72ddbd35f5ea449c89723d33b60faad73080c80a61535fbe98ba9d624c097e485930e12288e41c7041087c0c6a55ebecc5436aea7ab7447ab23e9ae617336d647020f00518c11b3a012036d1c1165b8bb93267a63226656602cf079968e2a9d7282ceea4ea3b435f3', 3);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 4, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20fc650500b28a201c80175607b6375a4151d98f642ffb8b6b86f4847e3c6176c186cc1901f188dd3266e59718070101256ea7c651c07c39d40557bdc360b73dbded2222cb5b4b42b55d7d48bf7c5073a02f47a6b7c034dcf70e0e48d32e9df6d31753edb4c8977880930e22188e41c70c0847c8cea55ebecc9476aea72b7d48ab27e9cfc86635583f090f0046662cce015615ae69c02f4cc804783e6ec3020521409f07e8a82a2927e8acee344a5b330f', 4);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 5, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20fe750500f24b231c7037d501283292d8b13b950269b15f705c5548fafb1d946c0254c52187cd2e9676758d87aeca8163c79c53b4c97818b1526b89607dbceff9fd6b7fcc6873502a0f89be7aab0e29c6b4296eb4a1a0a4408d36e4cc40ee586b6f01927ce5d2fbd848e84b11693c3c28e594728c112814620a092014423e0d6434db84f469f81869531c7971dc12f9d544ba17010b0036c2149e30459c0c7d3088051542303ecfd251a5a5dcdd6994b6661e', 5);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 6, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd6002006d0500524b221e7037d5014643a3161c95454a5a49eb82b0fe672868e88d409b4a3efdbf10c913bf6dccca37c90d36c675db856113e0723014a94465718beaa7fd36e0e6fdb2b931e7c0c634d72399d55dfde6869e02bd793abd00a7e34248c0853cfdf2695f9db5d54f8fbc494e400aa584814e420751a0223bd9baf9725bdac9aebe141ef43aa20e5d36ab6b7d240c004ed9f03201034f38ce875858248109cae7013aaa4aca093aab3b8dd2d6cc03', 6);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 7, 'ctxstore.domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd604102650e0036df591f5049f418428c98e84b1a37847dd666151a62c64df8b2c0bb3a182e2633b3c35000500051005f0f60f153d27a00dd810867c4aa78fa8ab7b4d6c31de8e2674f7f6e1ca5fbe94d335ae0945a4a01085b47a204583b12c14a85a10a6624a3bfa363c4f44ae7df911b3baf8977acd0b81afaaf1be4b34289c20454632abf2db290e8f7baad060a19319634befe89e73c415ef7f4948db49411fb3742da0af0f8eb87116b6c1d712795f7faf5a60f6057c4cb3b0c64b1772cde0e977e8c42d65bd46b85492cb12272d2db6e191d8d7f1e28bcd70d8c386116538b616b59a24a3c1ddd8c922c84b90217c399669e6ab6a02b4f1d08b29eb256929603c2b71831618d2da31de7b6e3122f6de33fa52ae2df046e9c68fcdbfe0d0b0b06058daf8b3e0fb632624ab21c085b12d5f81e0c0a1a3b2f115c748b92e8f6f0b52137fe76d1bfdd42843fee5e87b019f97d9a691cfd6bc2c2e9eeca84a5063521454ce91e4a9f518aedd679d7cc252020022280cace0e6fb20f701b4adda6142c2e7f097352bc9044484804ab00c163084732520cd7113b2c7c9d349aae22ea385410b1bd003237f76301dbf8f72859ec654c4ce14e0ff61102140d6858400d34dc2c106b03f198823cd432121d0427', 7);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 8, 'ctxstore.domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd603e02550e0006df59205049f418428c98e84b1a37847db649298964a6dd05da3fb6930d288caaaa8101500050005000f500163f25ad07d01d887046ac8aa74bf196d67ab8035dfcece9cf8ea37c3fbd69460b9c924b290051daa12801e68e44b05261a88219c9e8eff81831bdf2f97764c7cf6be21f2b38ae86feeb06f9ac10376102ca3195df9621d1ef755b0d14323a92c4f1f54f2ccf13e47d4f4fd9484b193194cf72a8008f2ffd304a1c5b47dc49e5bd7ebde903d815316bcc01d36ac8b49512d3d6a210d6124498d4bc9b527c72d2db6e191d8e7f1e28bcd70d8c386116538b61abb5a8124f4737a3240b61aec06638d3cca29a2de8caa20e04598bb25692da01e1d28c9830c796d18e73db798997b6f19f5215f16f023b4e34fe6d3f0b0b06058eef8b3e0fb632624ad20e84b54439be078302c7ce4b8417dd2225ba3d7c6dc88ebf5ff46fb710e1cfbbd7216c467e9f661c47ff9ab070fabb3261a9414d481153be87d2679462bb75fe3533242020022290c8ce0e6cb28f6e1b4add26142c227f0970527c9044184804a7a0e0309aa38294d8359e15b2beee1fcd161b6dbaaae77571e23a648118fb73940cf65a4cec70270cf619012a06342ea00e1a8e16886d03f198823cd41e890e9e13', 8);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 1, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd6016002d0600a28d281f50699c03f09ab662af51ec881821ffcb2e00320893b0a3abd1064a3233b39f0b1f9a6ca95e8d162eb41f18276f7f90acbd1bec7d57724ae23d0be2ab1dae3d4173e00ab78d358da3b73888374c0eef0dcf610556defc264b8ccc7cf5d18535447e0255cf58d9c8c70d841bb93d139726008d4dccaf9595856c3e81460b0324950e8223194732040cc9808b0a6264a60bf9a26265e4cdb38815ca0d83ab67d65a110c00d7b38135982b3ce6206fe20f4b76b085330306559f7297ceea4ea3b435f3', 9);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 2, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20ed350500a24a201d8035d501562f310a225bb905612723d11b037fa8f825cc2e9003332d01c9132f74ccca37c9b5b328ec4a81a05289da222cc72babe43934e0ebbdda0b0158a08031cd9548667d5fbfb9d233a0378fba9b8531c8d39babfdf5e658af1279935c80164a07854e42c7a090cacec66e0ed931ed6c5f676a1ccd8eac1b2f9bf5b93e120d00a2d878b8c82584c63c3b90dffbc7263bacc2e90083d24fe94bb775e7527a9d79', 10);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 3, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20fa3d0500128b201c70a5710328d45b34acd8ca08d5faede6aa42bae44184119b5200409ccb11af63cccac7e5fc743d37b01e6b3360e8d55e671c6fb0de6cca4f5fcb048e472df14b9f6b56c9734ddbd38f2fd40ce8f14f77f34006697a73b59fbe98ea55803c2e179c7450a138061d43200e919d4b1def9829ed5c4f578a24adaea4232d9bb5b1be120d002e31865c6c66a1ed8e9be59729d85a3b2cc0e916835292d2826eebcea5f43af3', 11);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 4, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20f02d0500c2c91d1a80b73ab6239afca4f407b5954fd2cdc8bab8c76f0c3550190123f1093a66102ebc89b1101049c1768b2847a22be17c4a81b95dbd312743cd5b53231bf3cd8b3d86bd79b2ce697b013dedd46d5f7db16cb787dec40390428950a093d0191088d0d6953767c8725bd7d573dfa1f38bfa43b4e122acbf0411002e662cce0155e3d8c2ada616a730211320f9b801135835801d42e1cc8041d5a7dca5b3bad3286dcd3c', 12);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 5, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20f24d0500528b211c70a7d50146286ec1b597a9d5aafc2709ae2aa4d8fa0d74db04a88a43f1875953cccbcfb8bc5400fdb5f736b17ac61f4c39a706f8e80c5b9b1bba86edf953aca585e67b41de97566bcf07105b08f6f9b78ce972042dcd946d1fdd50a9d91efa8c1f18838c41e70010a61c530a8319b4d548cf3756695b8da3a775059d9ea03b449b1751fd240c0036c2149e302d9cac7c308209b21aeb0e6171e6c0a0ea4939b6d3126d4d27', 13);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 6, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20f03d0500f20a211d6049e206a08ddae416794dbe768a30ac6194123ff6d523030520087c05c711eb32e6e497e308fbdeb66dc28e19301108201079b9de92d49aad5bf0f2566c66cc68d887e5692073b6a7bfbc4873902f7fa98a060780a61535fbe98ba9d634f0e578e1a483088a63d03103c421b071a9972f33958debe92a5d42ab1fd25dc3e66cac7f080c00bed8788db081c71ce44dfc61c90eb67066c0a0ea53eed259dd6994b6661e', 14);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 7, 'ctxstore.domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd602f02350e00269f59204069ec18511321285baa79e3212b84b8375545b83fc037f0bbb246f28e61785d50004f0051004c61568c8f0ed8f8086574c07d60456bd2d9312e140dacf17163bf367dd07dec67352da8524da9006531885a02ac218a4051c63a0cb6d4dadfe734a974e8faf76953d7d1e29d2a348d10fbde08f8aa10bff39d091c4d25fc9d4af2dabd678490ac69254b53ef5f34ae13a03b68237ce0949ab47f1570460050370b69624d672b34e9e15142f7f67ef680374aca47c220ec18fa58a60c6c9b444998350ca3901146e9db5313d2f46342b27b2334e95a8e56860679ce538ae135ec2ccbae83518c29ecacb76f5f274b27c9c2cc912c7692a51a6666b56a14a234a6ac3db8363df81edce2e17cfa233c8cf79ea04d174f070b0b06054dddbd8e8919696286854112c62c47534f1814343d3c4470af675a5ecfc447cbdaf4d7bdfeedc98a869c7b33afa676689da6af3f5a4c8eed1c2ea6441c91a522420749f99ad4db9e87774f232020022290cacc0e63b20f671b4ac5a614582c66096754bc1044286704abaac15d0c471929866b123b2c7cfd34be2822d618db08402e630d2dc0c0ff9c32dd5e59de7858261b4434a061016fd064b1402c0d94400bf2507b243a784e', 15);
INSERT INTO release_0e47313.ctxstore_events VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 8, 'ctxstore.domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd602d024d0e0006df59206049f418513442592f59d4d06cb37bf60e53142ccdca97f2653307042a087405500050005000ab695af1d1012c7e4a1a1dc07e20a2376ded39198a06b8f8c9b37fdd46f97eb6c39b165629a75400a2b4c35802cd1d8a0051c5328ab6d4e2e7f8362d75f9fa39aedbd751e2df2ab88d0cfcde06f9ab10cff51d399a80e196cae7aa202cb67bd7c840e1a685256ebd3fc1bc4e90fe209ed291954a8839440050330c6d4adcd6466c5ac32795eeededf001e4282d54d8111be460cc60cdd2f0a234861cb0b1a6c47252e7ae9b0eb73f0f14bab761d3aec468a530476ca24294c8c0264978198b6a0d81cd8a1c39364b9ab1042e065bb0614b31102eab15a30ec43564f1e3ebf6717e5ee26575faa7348af89eb06e134e070b0b06056efdc59e871a6d6a4ab21cac2d89e1d60f06056e9f97082f764d4aec7af888e1ba7d7eb19fbb424443cfbd21e44ded10376e637f94a870f67399a8d4604c4811533e88d2dfa422777dfe3933242020022290cacc0e61b20f661b4ac52614581c660965549c1044086704a9fac05c60471929866b123b2c7cfd343e2822ce18db082077938616b00d7ef7240d65b2a86679f3b08c36886240e3025ea3c96281581a288116e4a1f64874f09c', 16);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 1, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd601400250600328d271f60499c03f05db462ad4933221a21ffcb73449044117648125809534b92ac128f9536c754af468f0befc7d234dc1f206cf1068b5f8660d2121de570f60e7c4fd0368005dce718a651549ac35f2298f897d8b8022f6ffb36871879f9aaa38a7baa5fbc6c64f502e1463e22d9db80a3d896edebe58419db8e48a3c700692545a052a15221604886dc4c0c233b65c637132f1b679c359c5866965cfdc2d6890d00b7b38125982b3ce68e376b830d4bc7d021eae605036a3fa52fddd69d4be975e601', 17);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 2, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20ea1d0500828a1f1b606975a81d8798cfe5b44fb151814987e16c91d7c49ba34b920504cb1547f998977f966feb61f89981602933d74d691268982950b287b377dc8ed2f0f3b98c38e4645e78f69faf4589fdf91afa66070ad451e3f6d9dd6b1dd7d09fe580c4922aac845442849596b6baf673c9af6dab3b7b5b24e976851d81dabcf0f5950d008ad8788d308d27c6f1016d0860e9183a44ddbc6040eda7f4a5dbba7329bdce3c', 18);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 3, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20f75d0500c24a201d6047e306a88e0b32568c326109fd0e84358c42ac07114a6c901204293ccb11af63cccac7e5fc743d37b012ac4d81a1577b9d71bcc17ab3292f1b381eb5c42f7dae5925cf356d4f3fbe5053a0c7eb91ec3521c0f4e66a3f7d31d5ab471e970f4e3a08a038061d53200e919d4b1def9829ed5c4f578a24adaea4232d9bb5b1be120f002a31b3c559785818c3e20a6d77dc28bfccc0d6d261c14db106d4929416745b772ea5d79907', 19);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 4, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20ee450500020a1f1d70b5d50196a0da84a8097f101be92fe9aeea072c8b27d0b509a0aa0801f1083a66102e7cc6580c089460bb4594e3e9f36fd763952807e6f6f4c68c0ccdb7a6866acccf176b00f6f93d94bd16184c3b75db4f5f4cb5db439ff181930e2a14c7a06308c421b475a9e71932b5adebe96a9380565fd213441b2ec2fa4b10002a662cce015615ae69c0284cc804403eee1f02a706a043d4cd0b06d47e4a5fbaad3b97d2ebcc03', 20);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 5, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20f0450500428b211c7027710368287a716d96b4f5f5fe28e9ae2a24fdf73b88ce03a82a42ef86d55a66e5e3534e4970de566b8a788fef875ac6b6807fceaeb3b91d6bb78e378594b290f84e8eb5a1b4d6f1844289811eaf476eeb000269954afbe7c6a2567ae4f11da09453ca3166a028c414224014223b0d74fce245da69fc1c293b68f4c3393364b31ab67f080c0036c2149e30299c9c7c30810982587588bd79c380da27a5d9ce4df43a9d', 21);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 6, 'ctxstore.domain.aggregate:AgentContext.Recorded', '\x28b52ffd20ed3d0500820a201d7045d501968ea80419264c22ada4a8e05c554805f6610b5a2b51a08a43cb15c375ccca3fcb0136c67ddb86139760431818ca446d71cd6aa80d17f1f386d9ec9853b19159dfd77f7e285ae8cf1549175b70400d136a7fbd39d65091fc591e482b29c391904aa86024233b1bfbf9b263dad9bece34096876653d79d9accff5950e00a6d87c11078ac1028fb9e3cdda60c3d2317488ba79c180da4fe94bb775e7527a9d79', 22);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 7, 'ctxstore.domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd602b024d0e00f61e59204069f41851136336a70d0bcd2adba42a8f730c00cd2a40db56a1bf715514352e4f004f004f000b83f030fe3980c64f499f03d80d54f4a26d8665fd81c5f8c9b37fdd46f97e36c38b163625975280c2d6624ba039960890642c65b495163fc7b768a9cbd7cf71ddbe7e16ff56c1ed83e0f746c85f85fd5cdf8f26a0dc52f95c1372c476effa20285c9430835bef5f2caf13a43f87a76464a5cf0a591f00a717761635b7b5158b56f9a4d2bdbd193e80fca05d076638980f7161f10097b29476a4d61a6330534eeadc751173fb3341a17b2316ed921402d71213852da5a94e2925086ca4f15a7cac442d4b89874a90188f44a918e15ad201b2925664302dd790c58dafdbc6b9798b9795e99f5219f13d61dd2e980b0b06056efdc59e89fa2c6a89416147530ccaad270c0adc362f115eec8a0cb16be21f86ebf6f9c57eee0a15ed3cf7869017b53b7c701bfb9f4585b39fcb45a5083521554cf91c4a7f518adcb5f9c704252020022280cace0e60b20f651b4adda6142c0e7f0964529c9044e84604a900c15b084732520cd7112b2c7c9d343ea722c638961300769dce36b00d7ef79e0d933c00dd50653993611808089983c60a70458bc502b13430002dc8432d23d1417002', 23);
INSERT INTO release_0e47313.ctxstore_events VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 8, 'ctxstore.domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd602a02450e00361f5a204069ec18511321285baab9ff2a1482782ee6a8dd7f05fec9b2be91bc63185e17510050005000ac5573488c8f0ed8f8086574c0fdb0a235693b0be70f34c6c78dfddaf441f7b19dd5b4a04a35a5020e0559081350daa1081265b065284cb1fd7d4e934a87ae7f9f36751d2ddea942d308b1ef8d80af0a013bdf0fa608aca612fe4e26415ebbf78c1092352588a1a9f72f1ad709d01db4113a704a4dca106a121100d4cd429a0c4d672b34e9f228a17b7b3b7bc01b254590a597b75a310d63c6f6d08d1c98970d01304adf9e9a8ea61f1392dd1ba1491bb51266cd5b988331ca6aa5d4927027ca32b6085b56c39887ac25790f59d67a8f59a30ebc8c62ef60c59a92b07d5c9b3ebe8f5b3c9c4e7f84cb78ef09da74e1f4070b0b06054dddbd8e89196952160373200a63584d3d6150d0f47988e05ecfb4bc9e898f96b5e9af7bfddb93150d39f7665e4dedd01e9abefe683139b673b89812b1224b45840e92f235a9b73d9f774e0c232020022290cacc0e5fb28f641b4ac526145814660963549c1044d86604a9aae02d9aa38214d9359f1db6befe1f9f131b63dc6d2c900b39430680873fa748ab5781331e8609012172d0b0003768b15820960606a00579a83d121d3c27', 24);


--
-- Data for Name: ctxstore_packages; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--

INSERT INTO release_0e47313.ctxstore_packages VALUES ('ckpt-6060f8ab19b541fba9ceae93b65423b9', 'tenant-a/support-bot-1', 6, 7, 1796439786173564, '\x28b52ffd605101ed0b00d61b51206049f418513442592f59d4d06cf33bd782439057acdd6d7fb9b081021504ba024600490048004e3fd7f7446902cb2d95cff54d2a1186b8f5fe047c9d20fd31edde3532d0b86957f114165f69141d7c808b9f3cfbd72d23dfcf7678d3f63342d668dd428d68e8b9778cbc0a01b115b80e046150612c51cb11235c0c2669ae31831f5fb78ff3f3122fabd33fe5a6c46d6d04a237ad524ea900a4b1235902cd1d8a80a9c258453394b16e9f1fd3cf5d57c1bc27acdb442d817899ae878f38aedb291d59e9a6a31d765f6e7f1e687c894a0d6d00800c6d6a87b871cbf447891a673f979b3669585bac696c599895b43a981b2561486b252e4637dcc0c58d050b6d52f91c2962ca0751fa9b0c0adc3e2f111ed3951fdfb4cb7d9362b8ebf3cf997252e7ae9b76818781b0068fa5b9e3c2b0590883cb82ac34aaa9567c7410dbe183c8d1a61613007d5b40a1663fc505939b09068cc0d11d52d83af84dc26a9246132a146d424207b8109db1d05cd733ab6eb8165aa0a704d9c3330a', '\x28b52ffd60fe01e50d00761c53204069ec33bc6a2941f7b509f1021a7f7c1bab4b6b47285204bea7c9e61c86e1de4e004a00480009279c02e1669b656dc21c279665381cd892600c71280cce2d0a8441242d61c83aae4d1d5fe7a374aa14e068c71a6047611d850439106dda48c55795aec2cba5f02d2168ba36659ef29117ab090109ce867b5ddac4bd694a025eacbb41415367c4079546a4ee7ddc87e363a8625a2667c8c475d27a945fcb871f555142536f3e687605728f2a45342c59ac499842c12c041f86dd268160871ff7fdb92f82ec968ffce4d073bcd927ffc2e42f1d0cc84a8d27b5b485063354a40fbf375c9b3294ad4a039a9767c6f4cc70ef133b9ff89f4b4cdcd4800dbf5e523382478114900291024d8694509b4611a44d7dfebe4fe8a754c50eb769dab29b157f0fa7f372aaa2a61ff9998b5e08d72950ca5fc94255ab69f381f2deaf89f2b9b32fe28bd2975b9541a4012d281018421462e701105066234d536c2f80878174d06d90976cfc246784325fd4fe5a840729e3e80dcfca9370d6d9b31216137a891a631f0d6aee990d326ac0037181d212ccf94b1df28ccab72af8684c9ced632bd6abc1945e8ee3053bea95fb0f369a343204c4a6ccc8e2f6', 'tenant-a');
INSERT INTO release_0e47313.ctxstore_packages VALUES ('ckpt-89ae90f4c09641b59f0059fca50c3f96', 'tenant-a/support-bot-1', 7, 8, 1796439786183984, '\x28b52ffd604e01ed0b00b61b51206049f418513442592f59d4d06cf37bf60e53142cc5cab576773307042a08740546004900470009a79feb7bd204d65b2a9f2b9c541e0d79ebfd8905768274c8b47bd7c840e3a65dc5d3a5f84aa3e8e0035cfce4d9bf6f19097fb6c39b364a683944fb166a4443d0bd63e45508b195651d08c21685b144b923c6c5194cd25e63063fbe6f1fe707265e56a77fca4dcadbda08446f5aa59e520188e20e6509b4772802a60a6315cd50c6be7d864c3f775d05f39eb06f0309c4cb743d7cc471df4ee9c84a371dedb0fb7afbf340234c546a6803c0c2d0a676889bb74c7f94a8713674b9699386b5c59ac69c6356d2ea606e948421ad95e88c6eb8591637160bc9a4f23952c49410a2f4371914bc7d5e2240a62b3fbe6997fb26c570d7e7a133e5a4ce5d376d73cd1115e3d838a654e3d8b290e654441ae59a9d527c7410dbe183c8d1a6230913007c5b40a1663fc505929b09068cc0d01dd2d73af84dc26a924613aa131532420738109db1d0dcd633ab6e78165a90a7acd8c3330a', '\x28b52ffd6005022d0e00061d55214069ec33bc6a2941f7b549032548ded2d72c17a11d01dc003e4c93cd390cc3bd0150004d004900cd5a85393e342b31185873606c391089730d02492c4a5318b20bd7a60bdfc547e954e971b4e30030282c595680d29263801d05641514e440b4a923195f55ba0a2f9bc2b784a0e9da34f1988fac584d086913f7a6290958b1ee06054d9d111f641a91baf7711f8e8fa12ad13239c344dc455a8ff26bf9f0a32a4a68eacd07cdce40ee51a58bc394c51c85211089b5f091ec3a878519143e3804c2ce3a01fbfedc174176cb477e72e82dbcd927ffc2e42f191264a5c6935ada4283192ad287df1b0c65abd280e6e699313d33dcfbc48b4ffccfa544dcd4800ebf6e52338247811490129c0ef7bad1c240932125d4a6510469539fbfef13fa2955b1c3759ab6ec66c6dfc3e9bc9caaa8e9477ea6a217c2750c94f297b250d56ada7cc0bcf773a27ceeec8af8a2f4e5566510e9c72d281010421462eb01105865234d536caf85078334d14dc853367e246742055ebcfd59840769e1080bcf8f277596b7eb1216137a891a631d0d6aee990d226ad0037181e2120cf94b0f794ea5253e0e0b1431268eed7b2bfad539a526d57b019c88e6fe071b9f346c2efe1df1dd03', 'tenant-a');
INSERT INTO release_0e47313.ctxstore_packages VALUES ('ckpt-5cc563099b6c454ba6806a1e8fc3941c', 'tenant-a/planner', 6, 7, 1796439786203925, '\x28b52ffd604501bd0b00769b4f205049f418422c32ab73495843484db32a0e31e326c80bba56360b2e8caaaa81014400460047000beb36c1f833fdca9a80723be3337d72c67530b7d53fa13c5f88f541afd5e983307bd15297929d67808b972cfdd72d8cefa533bc68fd1911e9b36e1d47b8f36af56e5e860ce944b1d50b5b49e94e96272519876bc7e2a6aedba672f3121f29e32fe322c42d7504c2176d4a2ea5806325465a02cd1989e048c552455b69addbe707fdd9692f5aa50af8350b9d26fcc3bd6e6564229d8b0c67b856e5f665c2ec97a013c11100147616797578710bfd9f046de9afc645bb10e5e9a0187081e93840a51704e1a592d4dad1cb820c193a439c050d4dcef8dc1321e373e6fc4506056e9b8f0a0f3ae5a62e5a55eba204d969f38f9151ceca4e176d2b9618bd1c5c714b87c60a3b5837254992d18eeea3f8e7a09de183e60771381300775b40a1667e8a011a77100c1881973b16b4c1dd5a07bf49584dd2684225a22d1e3400e7a13116868b7a614117ec3d7b9d7e9b51', '\x28b52ffd60e601d50d00a61c53205069eb0352259ab0a60d21c30f2df94b16c458bdaa46c4c7331903089999694e4e00490048008b42c1871a488904822d47e3c6ad11452388820d28e4600b722485b181a393920e8895401cccfcae659e1909235bb400692555804806950c89231dbb7689c9f3a2f586909fb36b9b4b24ec05ef42ce7c7d736967a6acedac331af482ff110ed63e03ba97349e654e426efa776d838eb1a879d4efd72033aa9a6de7b1e966d1b3b0f6bd13bc3f7158b3680f85ea24a01cdad21242a0292c2b21cb77ffac10dd6313a5bee398f7fed9929fbe53e470286d34ba940d8d66a0679b96dfe8177dd106782bcd842a9bc19cd466a4b6744c1b646dbca59d2beaadf0904003547a74024fe24c468c6fd73e8fb36b7f4a963f1d39e3a2fec7cb5a8fee9dbc936f7e2bb6e8592b613773e1fc1eb3e4c528d527f82d526bbd1312f9ee1618dd7fff023a189fdb17213c012c281018429493e701106075a34dab012f82878034a03b91d76cfc4a4e42ed2fb41f8b7a90328e7ea19779728e258a3ee298c04bd418771c0833cd6b0434dd127810204ac268bf8893a45adaccc751436596c9a20dd685f31917f641377bff6cff49638c37de94cc72a707', 'tenant-a');
INSERT INTO release_0e47313.ctxstore_packages VALUES ('ckpt-6ff2d8646c354689af9f414435fd348c', 'tenant-a/planner', 7, 8, 1796439786213685, '\x28b52ffd604301dd0b00b61b512130695807e0f39a988b99a2743f324b86783623a240e40ddf6bcccd70f0a4a0503046004700470036e1ee8ba62fd76b0fa30928772a2fd737a94c0ee66efb2e96d709d2bed8d6767d10141ebdf69cec3c036cb89367dfbb47f9eeec868f0ea5b3249ebb3bad68e759db10f21502cd180215c51664d84a0b84caeab424e370ed587cb0773f583ebcc595b5e93be551e25e5ba1e8a3a7e4520a389266a825d09c91088e6458cad0565a77bffc625fee0a8fae9421de88c38f5d13f76178f7291b59e991d10d5babdcef4c50f81695221a01b0b073d4d661c63df67d1615ce7e561e7d21aa53b2189189e948e2021904e1a594d4da01991539726c86040bc8a4f232a48a299f43e93d3228703f5c89f062573ed8a32b6b8f52e4ae87fb9a2927b5dcf5e8306146640e8331c51885612569ec3060632d898b619ae13e07b01b3e80fc1c292c1200765b40a1667e8a011877100c1881963b24ad75f09b84d5248d26d4212ae24103f01d1a6361b8a8171674c1d65302e9e11905', '\x28b52ffd60ed01050e00761d55205069f403522564f0c286afc566f7fca54532ce5e82ff5d6c1ac480e2a8aa1a184e004c004b0009e21af6f8f1eb43e9e3501cc238986b0eb618e710ac17b30e484b10c6ce6f5be7d9a172ba55bb565b0b006188c36286a41dd600b20acc28246cb16ddbcce579d57a4bc911dab60f2e54768237214d3bbbc4a99d539d049de07f8382b6af90302e8b681da4929ffe6dfb2454ac7a3ed3777c929d643cdbd0e7d3cfaa28a1ed7b1f78ff02b967d532c5e815c01c5ef31612f018d7280a3303b1924c1ffe33c2749fcfa4e921e8bcf7d7a61cd3c3741c9891164f6a890b8b56a8689fa6bfe8387dd51abc99a7ca445be1204dedd0d414baf424a7456c1a3a93bc115e0a2443a23e21a87e8a3591b240553167dcb651046ddbaf94e95788d6b9aa3f72d3d6a77b2f0f69acdf865b15b5a5b29f9a708e91dd12e7a4c6271c57196dbd0f16fa0e1b39e17f7f4242399fdb5719444b652b281010421893eb01106075a34dab01afc1038074d0bdc80b1b8b922ba18c17b6071661906e1c6da1d779428e058b45c231c54bd4983a0e0b338d6b849bee127810204ac2a85fbc93e45a5ae7e380a139cb64d186eacaf98c858d20dfbdbf68e3278d9885f05670f5', 'tenant-a');
INSERT INTO release_0e47313.ctxstore_packages VALUES ('ckpt-4cc3bc336660469292cfd3bdfaa473f2', 'tenant-b/triage', 6, 7, 1796439786232239, '\x28b52ffd604201bd0b00669b4f205049f418422c32ab7349584348dbac8a43ccb8891c02d4b42a34504c66668701450045004700aa805f17b66d82f16ffad56002aaed8cdfd4c919d361b4adfe09c5f942ac0e7aad4e1f84f9988ef40794e2654bff6d0ba37be94c2f5aff4644fa6c5bc711eeb85afdbd5e86d050c801a1812805e163252daf93c470bdc48d1ddc4dddb64dedc6253e52c65fc64587b6d411085fb429b5940292c5bc5880b595088e54b02a1827deb6df0efab7d3b76855c83a38bdd069c23ffdb6ad8c4ca473d172a66b556d5f26cce7127422380280d2ce22af4e2f6da1ff93a04fbaab71d12a491d8f1588248b13a63ca5841ccf0fd6cc6d30a2144e020d4ccef8fd264246e7ccf98b0c0ada361f151c74da4d5db4aad64509b6d3e61d23a39cb59d2e5a5ed6c1e85ea0b2e0f238e184198931b6d653d67b46f1cfc173a60f5e3f8b021300765b40a1667e8a011877100c1881943ba4ac75f09b84d5248d26d420dac24103b80e9db1d05cd3330b3a6be729ab3f011360d51e', '\x28b52ffd60e201c50d0096dc52205069eb03522529f8a60d21440b2df94b16c458bd0d010ddb14d900999899de034d004a0049002925c4d1f838ec5a6b580895ac843328c4e19c01a194736d2549699b48cb0db4b4d8e158bb7065baf05d7c944d9102249654c19102540a38acb494a922115f45ca8a7dfdcad43de4232b5617020c33fdc0a9706f3b7bb8f74c69c08a75473860ea8cf820d268b4bd8fbbb02b53171f43916b799ca18bbb386a517e2d175e14350b4cbd39a1d911a62d8a3449ea682b7188c4c04a1c14078d7edcf7e7be0ab25b2ef28f336fe1cd3ef9171e7fc730b0d4692c879d24a0c10cd4e8c2ef0d86b215a94073b2cc789e19edfde1c51ffed78e8b7b1a50e1d7c96956f0487004ceb70c0dc24c86945099360da34c7dfebe4fe6a754c40e5761dab29b117f0fa7b36a8a1aa61f79998a5e08b72150ca577e58a848316d4e40defb29513e7776457c51fa722b42082c281018429493e701106075daa6d52f82878034a03b91d76cfc4a4e42ed2fb41f8b7a90328e7e419779728e258a3ae298c04bd418771808d3cc6b0234d5127422184aa2689f8809522e6de4e368a030cb60d106ebc2fdc5057d904db47fb6ffa431a61b6f4a56b9d303', 'tenant-b');
INSERT INTO release_0e47313.ctxstore_packages VALUES ('ckpt-5fb0e27caccf4eefa22c2b90e1d8e844', 'tenant-b/triage', 7, 8, 1796439786241463, '\x28b52ffd604101cd0b00f65b51224069ac0318511343d8460c73ffab9010c4733147edfe2bf04f96f58dc83b86e17501450048004700b06bc2db170ef7d2ae07530456fb8cbdd4c919990469afdc8bc67142ac0e72ad4c23c47c4f676723ed81c668b992fbed30ba96ececd35f849a44f47688150cb95af9bdbd4210594b0221b2ac05e1638d3abc651483c753ac2909dba7befda9fbb84547ea70cbf8b4b4535628f8e94a35a5020e0559081350daa1081265b065284cb1b7f73ac8bd4cdfd3d73202d01e324d74b4efed323a91cea7839dad75b5b74ccce71674221801f076889b859eb8427b6887dcd1823ec9aec6a7376a258f3570610ec6288b95524bf2385196b145d8b21ac6040b063963ef9b0a191d34673f1914b43f1d111c64ba4f7dfaaaf549c165fab4736494b32ed3a723c8c20b5cac98863dc6f6c08c1cdedb6760ac9a43627474f0d8d983b7d1538218021100755b40a1667e8a011677100c1881943ba4ac75f09b84d5248d26d4202ad277d0180bc33dbdb0a00bb69e12440fcf28', '\x28b52ffd60e9010d0e00669d55205069f30392f69e30c9e4c4e2b36db6611d62ac5e02aa7daef269707167664c084f004c004c00cc181bd861290cf10ceb70bc6738acf59e638a5a1c23147b8653ac210763e6b72df3cc5039dda655aa2905803018339800d20c5570a800b60210a6d8b65d66f2bc693bc1d0e9b67d30a1b213bc0b017569678718b533aad3a013fc8f70d0f61512c664f1ac835472d3bf6d9f848a4dcf27fa8e4f328356b30d7d36dd6c7a16dabe7782f7278e6b36ada2d6e198f20e08832190d54aa9c3e1fa400292e9c37f5698eeb39914bd0399f7feda94237a880c065b68d1a0869480452bd2b34dd35f749cbe6905bc95a64a445be12045cd50d4143af424a3455c1aba82bc155e122001447d3a4e7d1403cf40e254c59c71db3e8fb36dbf52a65f1d5ae7a6fec84b5b9fee9d3ca4b17e2fb7e9694b653735e11c23bb24ce49d7231c37adb6de09097d878b9cf0bf3f21a19ccfed9b109ea5012b281010421893eb01105885daa6d5af810780f4d13dc82b1b6b920ba18c2fb4478b60907e1c6d41d779028e05c120f198fe256e4c1e86cd34c39b60abba049d08869228ea131f41eea5753e0e187af30e166da8aed05f346838f546fb8b367ed24893102e9d570f', 'tenant-b');


--
-- Data for Name: ctxstore_projections_agents; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_projections_checkpoints; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_projections_evolution; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_projections_memories; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_projections_search; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_projections_tools; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_projections_tracking; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--

INSERT INTO release_0e47313.ctxstore_projections_tracking VALUES ('__migration__', 1);


--
-- Data for Name: ctxstore_snapshots; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--



--
-- Data for Name: ctxstore_versions; Type: TABLE DATA; Schema: release_0e47313; Owner: -
--

INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 1, 1767261600000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 2, 1767348000000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 3, 1767434400000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 4, 1767520800000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 5, 1767524400000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 6, 1767607200000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 7, 1796439786173564);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e56d3b80-4c03-5c75-892b-3f6a0ff9602b', 8, 1796439786183984);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 1, 1767261600000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 2, 1767348000000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 3, 1767434400000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 4, 1767520800000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 5, 1767524400000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 6, 1767607200000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 7, 1796439786203925);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('d36ecfbc-c315-5533-916f-f1884c090ded', 8, 1796439786213685);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 1, 1767261600000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 2, 1767348000000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 3, 1767434400000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 4, 1767520800000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 5, 1767524400000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 6, 1767607200000000);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 7, 1796439786232239);
INSERT INTO release_0e47313.ctxstore_versions VALUES ('e26fd3e3-969f-5721-bb61-8e94a49bdf88', 8, 1796439786241463);


--
-- Name: ctxstore_events_notification_id_seq; Type: SEQUENCE SET; Schema: release_0e47313; Owner: -
--

SELECT pg_catalog.setval('release_0e47313.ctxstore_events_notification_id_seq', 24, true);


--
-- Name: ctxstore_agents ctxstore_agents_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_agents
    ADD CONSTRAINT ctxstore_agents_pkey PRIMARY KEY (agent_id);


--
-- Name: ctxstore_dictionaries ctxstore_dictionaries_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_dictionaries
    ADD CONSTRAINT ctxstore_dictionaries_pkey PRIMARY KEY (dict_id);


--
-- Name: ctxstore_event_ids ctxstore_event_ids_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_event_ids
    ADD CONSTRAINT ctxstore_event_ids_pkey PRIMARY KEY (tenant, event_id);


--
-- Name: ctxstore_events ctxstore_events_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_events
    ADD CONSTRAINT ctxstore_events_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ctxstore_packages ctxstore_packages_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_packages
    ADD CONSTRAINT ctxstore_packages_pkey PRIMARY KEY (tenant, package_id);


--
-- Name: ctxstore_projections_agents ctxstore_projections_agents_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_agents
    ADD CONSTRAINT ctxstore_projections_agents_pkey PRIMARY KEY (agent_id);


--
-- Name: ctxstore_projections_checkpoints ctxstore_projections_checkpoints_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_checkpoints
    ADD CONSTRAINT ctxstore_projections_checkpoints_pkey PRIMARY KEY (package_id);


--
-- Name: ctxstore_projections_evolution ctxstore_projections_evolution_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_evolution
    ADD CONSTRAINT ctxstore_projections_evolution_pkey PRIMARY KEY (agent_id, bucket, start_us);


--
-- Name: ctxstore_projections_memories ctxstore_projections_memories_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_memories
    ADD CONSTRAINT ctxstore_projections_memories_pkey PRIMARY KEY (agent_id, memory_id);


--
-- Name: ctxstore_projections_search ctxstore_projections_search_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_search
    ADD CONSTRAINT ctxstore_projections_search_pkey PRIMARY KEY (agent_id, version, seq);


--
-- Name: ctxstore_projections_tools ctxstore_projections_tools_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_tools
    ADD CONSTRAINT ctxstore_projections_tools_pkey PRIMARY KEY (agent_id, bucket, start_us, tool);


--
-- Name: ctxstore_projections_tracking ctxstore_projections_tracking_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_projections_tracking
    ADD CONSTRAINT ctxstore_projections_tracking_pkey PRIMARY KEY (application_name);


--
-- Name: ctxstore_snapshots ctxstore_snapshots_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_snapshots
    ADD CONSTRAINT ctxstore_snapshots_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ctxstore_versions ctxstore_versions_pkey; Type: CONSTRAINT; Schema: release_0e47313; Owner: -
--

ALTER TABLE ONLY release_0e47313.ctxstore_versions
    ADD CONSTRAINT ctxstore_versions_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ctxstore_events_notification_id_idx; Type: INDEX; Schema: release_0e47313; Owner: -
--

CREATE UNIQUE INDEX ctxstore_events_notification_id_idx ON release_0e47313.ctxstore_events USING btree (notification_id);


--
-- Name: ctxstore_packages_agent; Type: INDEX; Schema: release_0e47313; Owner: -
--

CREATE INDEX ctxstore_packages_agent ON release_0e47313.ctxstore_packages USING btree (agent_id, created_us);


--
-- Name: ctxstore_packages_id; Type: INDEX; Schema: release_0e47313; Owner: -
--

CREATE INDEX ctxstore_packages_id ON release_0e47313.ctxstore_packages USING btree (package_id);


--
-- Name: ctxstore_projections_checkpoints_agent_idx; Type: INDEX; Schema: release_0e47313; Owner: -
--

CREATE INDEX ctxstore_projections_checkpoints_agent_idx ON release_0e47313.ctxstore_projections_checkpoints USING btree (agent_id, created_us);


--
-- Name: ctxstore_projections_search_tsv_idx; Type: INDEX; Schema: release_0e47313; Owner: -
--

CREATE INDEX ctxstore_projections_search_tsv_idx ON release_0e47313.ctxstore_projections_search USING gin (tsv);


--
-- PostgreSQL database dump complete
--

\unrestrict 3WoMiTvOcou0fOTU4A1enQes737NtMXQl9CKXbxvZ4TrrVia3kYlUENmDvUdyIn

