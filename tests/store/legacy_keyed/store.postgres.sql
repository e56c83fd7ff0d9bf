--
-- PostgreSQL database dump
--

\restrict GYe4PTTIAa3v9jyhkg2Sr6tvg3awAeKdEGxdbk2nk6QMfIuUnRAf3Jay0TOVYiZ

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
-- Name: legacy_keyed; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA legacy_keyed;


--
-- Name: stored_event_uuid; Type: TYPE; Schema: legacy_keyed; Owner: -
--

CREATE TYPE legacy_keyed.stored_event_uuid AS (
	originator_id uuid,
	originator_version bigint,
	topic text,
	state bytea
);


--
-- Name: es_insert_events_uuid(legacy_keyed.stored_event_uuid[]); Type: FUNCTION; Schema: legacy_keyed; Owner: -
--

CREATE FUNCTION legacy_keyed.es_insert_events_uuid(events legacy_keyed.stored_event_uuid[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$BEGIN    SET LOCAL lock_timeout = '30s';    NOTIFY "ctxstore_events";    RETURN QUERY    INSERT INTO "legacy_keyed"."ctxstore_events" AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, topic, state    FROM unnest(events)    RETURNING notification_id;END;$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: ctxstore_agents; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_agents (
    agent_id text NOT NULL,
    originator_id uuid NOT NULL,
    version bigint NOT NULL,
    created_us bigint NOT NULL,
    updated_us bigint NOT NULL,
    tenant text NOT NULL
);


--
-- Name: ctxstore_dictionaries; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_dictionaries (
    dict_id bigint NOT NULL,
    created_at timestamp with time zone NOT NULL,
    size integer NOT NULL,
    sample_count integer NOT NULL,
    data bytea NOT NULL
);


--
-- Name: ctxstore_event_ids; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_event_ids (
    event_id text NOT NULL,
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL
);


--
-- Name: ctxstore_events; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigint NOT NULL
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ctxstore_events_notification_id_seq; Type: SEQUENCE; Schema: legacy_keyed; Owner: -
--

CREATE SEQUENCE legacy_keyed.ctxstore_events_notification_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ctxstore_events_notification_id_seq; Type: SEQUENCE OWNED BY; Schema: legacy_keyed; Owner: -
--

ALTER SEQUENCE legacy_keyed.ctxstore_events_notification_id_seq OWNED BY legacy_keyed.ctxstore_events.notification_id;


--
-- Name: ctxstore_packages; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_packages (
    package_id text NOT NULL,
    agent_id text NOT NULL,
    version bigint NOT NULL,
    event_version bigint,
    created_us bigint NOT NULL,
    meta bytea NOT NULL,
    body bytea NOT NULL
);


--
-- Name: ctxstore_projections_agents; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_agents (
    agent_id text NOT NULL,
    version bigint NOT NULL,
    raw_bytes bigint NOT NULL,
    stored_bytes bigint NOT NULL,
    live_memories bigint NOT NULL
);


--
-- Name: ctxstore_projections_checkpoints; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_checkpoints (
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
-- Name: ctxstore_projections_evolution; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_evolution (
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
-- Name: ctxstore_projections_memories; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_memories (
    agent_id text NOT NULL,
    memory_id text NOT NULL,
    kind text NOT NULL
);


--
-- Name: ctxstore_projections_search; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_search (
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
-- Name: ctxstore_projections_tools; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_tools (
    agent_id text NOT NULL,
    bucket text NOT NULL,
    start_us bigint NOT NULL,
    tool text NOT NULL,
    calls bigint NOT NULL
);


--
-- Name: ctxstore_projections_tracking; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_projections_tracking (
    application_name text NOT NULL,
    notification_id bigint
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ctxstore_snapshots; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_snapshots (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea
)
WITH (autovacuum_enabled='true', autovacuum_vacuum_threshold='100000000', autovacuum_vacuum_scale_factor='0.5', autovacuum_analyze_threshold='1000', autovacuum_analyze_scale_factor='0.01');


--
-- Name: ctxstore_versions; Type: TABLE; Schema: legacy_keyed; Owner: -
--

CREATE TABLE legacy_keyed.ctxstore_versions (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    ts_us bigint NOT NULL
);


--
-- Name: ctxstore_events notification_id; Type: DEFAULT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_events ALTER COLUMN notification_id SET DEFAULT nextval('legacy_keyed.ctxstore_events_notification_id_seq'::regclass);


--
-- Data for Name: ctxstore_agents; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--

INSERT INTO legacy_keyed.ctxstore_agents VALUES ('support-bot-1', '0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 5, 1767261600000000, 1796429956371157, 'tenant-a');
INSERT INTO legacy_keyed.ctxstore_agents VALUES ('planner', '1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 5, 1767261600000000, 1796429956400021, 'tenant-a');
INSERT INTO legacy_keyed.ctxstore_agents VALUES ('triage', '4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 5, 1767261600000000, 1796429956426691, 'tenant-b');


--
-- Data for Name: ctxstore_dictionaries; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_event_ids; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--

INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('support-bot-1-e1', '0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 1);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('support-bot-1-e2', '0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 2);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('support-bot-1-e3', '0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 3);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('checkpoint-ckpt-3e35f16edd0548f7b089a8e8e223e94d', '0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 4);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('checkpoint-ckpt-49a78e8e509045af9af42cfaec19c0f5', '0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 5);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('planner-e1', '1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 1);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('planner-e2', '1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 2);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('planner-e3', '1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 3);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('checkpoint-ckpt-ca4fda6bba7d4863945fd14cff8e48a8', '1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 4);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('checkpoint-ckpt-8e68ba7c84e1448c921db9ea5dc76a1d', '1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 5);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('triage-e1', '4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 1);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('triage-e2', '4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 2);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('triage-e3', '4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 3);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('checkpoint-ckpt-5064daa7963343fca4c11129a42ca82d', '4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 4);
INSERT INTO legacy_keyed.ctxstore_event_ids VALUES ('checkpoint-ckpt-d70aad886bed4854bac3e243cb71fc2e', '4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 5);


--
-- Data for Name: ctxstore_events; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--

INSERT INTO legacy_keyed.ctxstore_events VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 1, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20e6ad0400b2091d1a80b73ad613bf78b1db02d9ca47c535437a8a9b0f35888a2228018b957b4df5eab358198da9c6248a2f7879ddd73d828f916b6278481edf48d51f5e3e8c7b74b88f15da37408b3c0813f572d1d8ba1be9b3189056520295904a28402422370be6e3a78d7db3f0323b8ccbac2cc323577fb4b5120b001a96856838c1136ef221084caca0021c9ffa2977e9acee344a5b330f', 1);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 2, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20ebcd0400428a1e1c70a7d50126286a7926b55562454c9304aeea07b31ca0d94c54557c03890f6bebd71b13a3e12f3f0c599e0a3879992e6b01462fcbfdfa73a01d89d6227f359caceeadd1484b811a7dca3680b247738ee04e26965aa6451a130f4c32a7804c39a6109041b94928a3db97d24dc2c94add5b6524d919b95763ad910a00249605da709927dce4431098a0c5a77eca5d3aab3b8dd2d6cc03', 2);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 3, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20e6b50400f2c91d1a80b73ad613bf78b1db02d9ca47c535437a6abccd5083041901238d957b4df5ead3d82034a61244a2f88297d77ddd23f858b92e86a7e4f191547de2e5c3b83e368e0ef7b142fb06689507e1a25e3e1a5b77247d1a03d24a4a6024a4120a14a9c8cd83f9f86963df3cbccc0ee33233cb30c9d5276dcd040a001a96856838c1136ef221084cd0e2533fe52e9dd59d46696be601', 3);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 4, 'domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd602702b50d00b61d561f70277a108b8c509649b10116edc32d5b7d887e22d2feb79f14cf454a553d184d004c004f00b4f08a9771d2c26bc23bf4a65dc5cfa6f83a2935f8b685d1bdec87372556a9a65400832887720828abb1d5941a485461ac423194c1cfd06ddae9d1f533dcb6ae29e2dd1eb4a511bf77147f0f02333ed7c518b0ddbbd268be4d0a43da7a3fa2716d10dd412ce313ebdcb4fd7c88950240dd30b4e9685bfbe07246f7f67eb8f098a68508ebc3309a698619a39ac561904441d8ca7292a38fe203d2309f7b479b16f602db699e6289c38d5a8763409620c901d7c21856cd16e625ec400cc5303790699873a85e4ec30d4cda684a623081e04c70888ff5e9977115f0dd60db229e7eaeef89b208acb601894401415b77b0a5a1d24d4ac29881286c596ddd8054c3537edbf6d9c17eeefa0e0d39f77e8f37b543ecb485fd14519f6ce7115167d4917cf320a383e6fc4d0a7257c2bb4746399dbb7e232020826a0ced5eb20f631b9a61df324accd980e6f70a8d00f7846015103cb670b4a9deae61e1f3d30ae0b4e9ba9d9d4d056ddb61417673cf16d8c61f47a9c65e8c891deec4601f87d04001ec68afb0406c0602bfce1e940e541e', 4);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 5, 'domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd602502ad0d00f65d561f6047f430d61263ea6ef11ec3226db3474e0038291651fc97fad8e42108160d4d004c004f004f0d5ef1324e6af0daf010bd6855f17329be4e4a0fbe6d61742fbbe145099b524b2920594a2587404135a65a4a032b15862a0a4632f819ba453b3dba7e86dbd6354dbc5b84b6f4e1f77ee22f42aaed8ccf55510cd8ee5de933dfa223adb6de9f585c1f44770ecbd8c43a17ed8bce72a0004e2fec2c42dad646b89cd1bdbd1b36784cd12e263da65e33f30c8461c6f042124bab95561266481147db9787f9dcfb59b4b013d8ccf2125b0c2f491d8c01d942d60155c2144ecd12e52d762046529817a82c8c39522b66e105ae365a61196c30381b5ce2636dfa6554057c3fd8b689a69feb7b82240201090905046dddc196874a17151663065260896aeb87550f4ff96ddb6707fbb9eb43b4e3dcfb3d5ed4ee30d316f6d3447db29dc7449d4f3ff24d848cce99f31725c85d0def1a19e574eeba28222020826a0ced5cb20f621b9a615f324ac4d900e6f7088d00f38420150a16bb393a561fd730f6f5ff68b8d888c3aa9f76fb17c842ea9901f0f0e328d5d88b31b1c39d18ece3101a28801ded151688cd40e0d7d983d281ca03', 5);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 1, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20d495040012c91b1b8025ce01dd578ca2f25c8b683921522ecab40341934998454c10a88d51595baa575f631c74491d863ccb0b4e5ef6658da0004753f27c23558f38d967fc09b8cfca19cb237172b1d4b21be96b1c4009e100d1417404042272b3503e375dea9b8593d593659599e404c9d5236bcd040c00f61801170984d08d67dde157d8b1a90d6b19278e94137456771aa5ad9907', 6);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 2, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20d9950400b2491c1980c739dd914bf3af34a26589a45ccc8c29406a12b3880902158d896b637fded7380d5ff0c380674982955773b50d7c5ec53dfbf1680a9ed3c03f112bfb9cf214d2672555f148ac5cb0b59a06fa1a0390428420a143a0134828e162b17c6e672b170b2baf4c965d66941304f789b035130b0000360261c8cc63eef026ecb0d406ab8c1347ca093aab3b8dd2d6cc03', 7);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 3, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20d4a5040012491c1c8025ce01dd578ca2f25c8b683921522eca34c2f8ed73338b982050018f09656da95e7d8f8d419bd46148d4bc60f4b22f6b0405481a93e723a97ac5689f8da380fbcc9cb14c16a38fa5961d49dfe340c2440c8c84888404452a72f3503e375dea9b87d1ea4bb3ca0e7a5172f5ca5a3b010c00f61801170984d08d67dde157d8b1a90d6b19278e94137456771aa5ad9907', 8);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 4, 'domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd601402850d00d6dd551f6067f330d531a6eef6932e7ed32ddbc8a082207a7cdfb3cfc266a4000094064e004c004d000f2a7685a706aef0324e6ae01ae114bd676b4bc90c5db62fb697bdf09e84350c6618016aa1a4248185988298610c2046e140857518073fbfb667a7c7d6cf6fd9b6a68b6f8bc09636fcde4dfc45080288ed8ccf7525c76bf7aeb4996ecf9128b6debf38b43e88de1896718975eed97e56c44a01983e30b327b1adadd8b3c8e58ceeedbdb081637ad6c006d506089d420f224a49cba05ec287c3e2f565623af76ef6ec830b2ad07020e9218a82afd7430921296964a44e6b2d840e85bcf5a0a252028f468794240f3ea714c4cd167230c2972dc219d1161febd22f232abcf78365bb58fab9bea324090905046cbdbd96894af72c44510eb59404b1f584ea9a78ca6ed93eb7d7cf5d9da299e6decef19e768621dbd74f17d5c96e1e177536dd483715323666cedf633cee8af8b6c828a77307212020826a0ced51b28f591b9a611f314a98d980e601098d00d18420151accf570b4a9de2e61e1f369e97bfa4161672603766bb1eb75b6c136fe3825797bd1f286c132faa08102ccd1526181d80c5cbce01e890e9413', 9);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 5, 'domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd601302950d0016de561f6047f430d61263eaefe23ac3226db3474e003829863cd01d1612e62108160d4e004d004f00ac24ac93c23f06b0f053d2c700b601227ad1d69e939b67dd46f97e36c38b1236259752805a2925438029d7944b69e04885a50a6ca5c5cff12d5aeaf2f5735cb7af9fc4bf4570fb38fcde8efc4508de9880724be5732d9215dbbdebe350b8a821865bef4f28af0fa4bf86a76464a58b16ca46393c004d2bdc2c32dcd6462c5ae5934af7f666d800f283362a66088c077753a25a0d2686a1da4820128b0ab73f0f14bab7b368e3c296b624eb28e2d18c25368baa504781b44a45178c31a596714416976614c8b25a290582c42542a3296ec78ec5065fb70667c34bbcac4cff94aa10df0fd66d82e9e7fa01090905046efdc59e87fa2c62476bcb600d516efd70743dfcc370dd3ebfd8cf5d21a29be7de10f2a2f68617b7b1ff495438fbb94c54eab43321454cf91a4a7f518adcd5f08f997252e7ae011f0050c43e64c9d02cf60daf12656400d302122e023c2304a9f681b91676344df5d8357ce1eb43e383a288332f583ded34b6016cc33fa724dff61acb1b1c2cf31f34a20033d052c602b1cac0c5597067243a984e', 10);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 1, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20d1950400f2c81b1c80b5cd18dd7d8cc2c4683b92a6d25f9c40997610ecdc2e908122ed01cd4add6baaa99f6645e8824a1004b4a4e1f5ba5cf70a9f955480c353541379fd59250ac8cf796053f6b5d1d8ba3cf0d31c482ba9814a4825242852818b06fbfcb4b15c345eb34c966533eb04c1d544dace040c00f018a11646f084173e8c0c212c1db386a078b3474a0bbaad3b97d2ebcc03', 11);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 2, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20d68d040042891b1990b7399dfe113bdbb5bf6c497f79b26e166ad63124335195f68d8bb3b67ebdaf7122bee4096270162d18bd4c973582cfcb72bffe3434e557c4689f939e83faac472e658d36965aa647fa1a0310a24290d029d009249472d3503eb72fa59b86d14a936595197482e45e91b566020c00fa18812f4ce6092f7c181942583a660d41f1668f9416745b772ea5d79907', 12);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 3, 'domain.aggregate:AgentContext.Recorded', '\x28b52ffd20d19d0400f2081c1c7035ce183530ad45e7b9365693582c05a42aaccfef40743e42557108cf85bad7545347cf07a10d2a4110529386d7eb72dd2b8c6652010e8f514de5f5e82353408ece041bb3af91c6d66582a3e7805aaa181c2a152a090c65e022c2463f6d2c1791d72c9766d9ce7a51703595b63b010c00f018a11646f084173e8c0c212c1db386a078b3474a0bbaad3b97d2ebcc03', 13);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 4, 'domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd6012026d0d00a61d551f5067f430d174cce25c23d84048dbec11c7555517ffe9b02b8c3e644455553d4d004b004c0091b55420fc7380849f923e07d80698e845db0ccbfaeb36caf7b3195eb4d8945c4a014892d462024db944b994060a89b014a1adb4f839be454b5dbe7e8eebf6f5a3f8b7076e1f87dfdb91bf07014c1d02ca2d95cfd538566cf7ae8f43e122a431b7deaf505e1b487f0d4fc9c84a9f13b23e004d2bdc2c32dcd64e2c5ae5934af7f666f800f9411b17c270314e96520a32868bc10ca32507735d7f2228746f67d11edc10a61403e986c612b90d78b462cccd0e08d35a6d34632d0a51aaa02c4df14add16560a47754025ba56586cf0756b70363cc5cbcaf44fa908f1dd60dd2a987eaeef018b4501815b7fb127a23e8b5a2149166bc9a1dc3a82c5ae887f18aedbe717fbb92b4c74f3dc1b425ed4def0e236f63f8a0a673f978a4a9d7626a489295f43e92f4a91bb1afe31534eea1c212020826a0ced50b28f581b9a611f314a28b3e28525423323585508e642386aaa61d770f89cb4f49f7e4fda99d1a0cfdadc4d1a5a601b7cdc7b1eccf14255e00c83614c43030594a3a1c202b119a877c13d121d2827', 14);
INSERT INTO legacy_keyed.ctxstore_events VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 5, 'domain.aggregate:AgentContext.CheckpointTaken', '\x28b52ffd6010027d0d00f61d561f5067f430d174cce25c23d84048dbec11c75555578ffdb02b8c3e644455553d4d004d004c0091392191f0cf01127e4afa1c601b60a2176d332cebafdb28dfcf6678d16253722905a8426b8b0934e50acaa5347024c25284b6d2e2e7f8162d75f9fa39aedbd78fe2df1eb87d1c7e6f47fe1e04ef06d204945b2a9f2b4b566cf7ae8f43e1a203616ebd5fa1bc3690fe1a9e9291952e5a281b05f10034ad70b388b9ad9d58b4ca2795eeedcdf001f2b3e0a210051a6cb501596147c2622b2d49028b0cb73f1114bab7b368116e09538a9174436389dc06445a31e666088469ad369ab116952875284b53bc52b78595c251215089ae1d8b0dbe6e0dce86a7785999fe291521be1bac5b05d3cf358b4501815b7fb127a23e8bda51282cd60a8872eb88237645fcc370dd3ebfd8cf5d61a29be7de10f2a2f68617b7b1ff515438fbb95454eab433214d4cf91a4a7f518adcd5f08f997252e7ae01202020826bceec4eb28f571b9abd4ff84b1893e284244232224805056f698e88d58e6b987dfd3f3e276c8cb9dbb7402ee47c18000fff4e3952bd0a9cc160186868b8807234945ab05df0a02d7ad4de83d241c903', 15);


--
-- Data for Name: ctxstore_packages; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--

INSERT INTO legacy_keyed.ctxstore_packages VALUES ('ckpt-3e35f16edd0548f7b089a8e8e223e94d', 'support-bot-1', 3, 4, 1796429956363648, '\x28b52ffd6037012d0b00269a4b1e6047f430564189fa09a2de0642dae68721c84bd226a8da3309f310048b064200430043007c48fcdbfe65c621901e57fa6de152696aeaf1f53f44e805f4c2e9f7ba650a55f2e1447c8dc4dbca3086cb8f2785bf78d27cd8bf1b6a197eac78e30abcd7a56c36082d3a64214f48ec3899ab6730d584cb8f09b709f0f0d426fe0be5533cb6de34ce87117a0805b4c258c61230d273e92134c010a1126128a4f8f1379cfeed3611f36f01bf09b595cff2a4ef458f7f3154090fb616bc00a0786c858f5fa591c7d39f3958b938bc940f4f3fa6235122c7908e282d444dc70ab6663a5c6be4ee6892b95528d4bae30c07eb5bd666a150a9f5f970bab3dd121e260b5dea6db77c7816ce9752debcb56b281e482b189ad38d84b0e58b7886407ad204b2193e862b94e6e9d6f04c4b7ebcd0122010864dd5036c53e0b140b7abee8049e48b130cd43ca4300f7e092b4923a11eb5894e423496c245e9b16b2ea097007a184401', '\x28b52ffd60f0007d08001651351f508556075399b17a71e3868b147ef9069a76668a06a4dbf8835a988c9959c12c002d002d00887e3ba21751e5647e0e801a4a010b2109210485d4dbe15c7a7f9e903a1d52e95c2c18fdf617972af9b077048f0b8fa16390c2e03a9416544f6103b65e2a28c922560a09c394355028d9752f710a5c881374eb1e63d5084c6deddc4cfaf324e8c6b640b04883136f77f061bb0d02ed9d90b1591a1ce954b0e2e7e1686fca03947b59308a9f078fa6596669e6ac696df393da290f2cb5698472c66eee838c72f632fd31ac2ab776ec5e751ea7dc8c0715005337e8d83c2bda112f17536997261b1b7b923fccd686b403727f550ec0175a9fe1b5233586841bba66e0690c1f02dba6342357b707');
INSERT INTO legacy_keyed.ctxstore_packages VALUES ('ckpt-49a78e8e509045af9af42cfaec19c0f5', 'support-bot-1', 4, 5, 1796429956371157, '\x28b52ffd6035012d0b00169a4b1e6067f330d531d1367abc27d8a66d7e1882bc44e6907f4f9e4998872058344300430043006c138a7fd3afc8810820b6537ed3c64c9924896df54fb8e605b236e8b53a6d0cf3ed5954fc74c5d3d93487ba6ca16ccfb8d27bf6c9c51d9a65bb38c29756abbfd76b1030712b1aec28ba765079620495ba50976da176a1255e52c59f917b145bea0884ef5966c61c80288410438080d8428c794071915041489c96ed7783feed1415f06bc106529174ee315ce95a99ed3387f95a824e831b001677bdecf1ba74640bfd9b047d8cb72af72c74047a748f978aed181931c1a50e654084aca4d917923cb58c2371d2ed0207c7f79b0846b665cedfb3a8c2765af8a6309299b59dee5915f92df4bce34b47ec155b1dbc5879e209d2eb28be2178ae34c1eb668fc16ae9854e0fdff45bb64c122010864dd5036b53e0b140b79bee0049e48b130ccc3c24300f7e092b4923a11a55884e423496c245e9b16b2ea097e079184401', '\x28b52ffd60f700b5080066d2381e6045f3a08c9618db20add07276547f11004e12c3f7dd1db303254010e80a31002f00310095e1c308398400964459ca0a50926bc92124c010a212a228a4d8b1acef9b0f27e456885c5b1188c4b3e338dfa54e6866044c36446949151b4bd88a49d09646de040bc3da4a145aba615c60930b7992b06164ae9cc254179e1d17be0bef52bf34960fa7e317fdc7d1c8c20dec98e184fe1f0c387e039dcd5bf8b4f5e0073e0d86e3b7aeb0fe0fc11cf8707441740919d4028da4699a794dad37ad6ef824c7d615efbe9d92d6f9ef4fa093d66fb77c06ebd2be3fff5b9d065bff043bf6a6061200530be8d83c2bda2d2f17536997261b1b7b923fccd686b403727f550ec0175a9f51b6233586841bba66e073c14d29');
INSERT INTO legacy_keyed.ctxstore_packages VALUES ('ckpt-ca4fda6bba7d4863945fd14cff8e48a8', 'planner', 3, 4, 1796429956393164, '\x28b52ffd602a01fd0a0046da4b1e6047f4305661b4feaeaa6f904cdaac3e047969862ec3660b09f310048b0641004300430067532a74fd836d7b50bc32ad9f0c81d476c6cad4c9199941b47daf87c4f9417cd7feef9429986fcf529792978eae4a5778cf7ae5265266db2edef8e2fefd3d5e84295186d1b0df42127b6305c186dfb68667833bd44815af32ee596de58c4fbd71557ae37b16a18650c06249214a80a586a486d040810a442a300211dbb6b26bafecf46d74ee51aef03f6a5ba5c17cee40678117002c9ef0b2c77f61d8b6bd3207faa4bb8f7bb62183083c884275812cd8ce3aa95428c31352ae18632911ab68d61059ca808407094abed9c8e89639eb9e4dffcd4e0dd52932caf9ec74cf1e7c2c3f207c2b352c16a2d8b1dae02461dc70f12b5486e0b9c2048f993d84b116de766a50197edb56462506100066abc053bb72376a0a77b92c70f20636ee90b4d6c16f125693349a5075680b6607dd249eb2ee2790213bc9', '\x28b52ffd60d800550800c65034205087560740afe3f1516a680351fa8b87601033eefe7dbf11e28b1666ceccac542a002c002b004b496be8b31b7a0d4f94ced1011086a88042068a0c5642d2d99d6c7a8f3e39c68589b3b7d73c910b7b46e8cd2dc7b880a4a8a630896bbc9a2a55d4c28a28566b2dd594286d35c7246a718995402d4b73cd49185d6601ec0ce53cba1ebdd83e8e1d2cf870760617b69b30c0de87f860b3e037258211470d067b4f564cee26e1201e0d08d769a0948fb65a78a4ec9315cdd3f3b9285f377721be287b791e11d413f7e9d7bd09353eb90b1e1500533758d83c5634645d38a62a2e4d3636f6dc7e98a40da906e466e50e6c17aa6d602d4b8d21e186ae19781a938f57b629cdeceaf4');
INSERT INTO legacy_keyed.ctxstore_packages VALUES ('ckpt-8e68ba7c84e1448c921db9ea5dc76a1d', 'planner', 4, 5, 1796429956400021, '\x28b52ffd602901050b0036da4b1e6067f330d589884f8bf784d6269ba83b047991f9756d892b6293872058344200430043007b9699e095166cdbc4f2b567a50813e0b612d69e2e4aa88ed4967e4d24ee0b2075fe94fe6c0cf2edd9f93136e3d0d5f84befd90799e4d06c5be611cf384affbd5e83cf89320c57fc2d84fb1b2b5217e8b62dd02eb8448573f91ae19ea26d9490ce47b81a1ff17b16a18650002784d01260dc106e080d14889098c0124adbb6b6f3affdf30570ca3dea97a614b5adf1209f4b4c69780300f349337b9e32adb4f5af4d62bef88ec23deb0a5310e54885f202598a3f73565c28e319a9578c31e6b40a67ae204b194a0a072b3e8988d03152d63dcb947aff2c54b7441825ed9f7bd6b999f1bce84712e784bc632dfe753ca39383fd41a80dc1fba5095e377b106331bdfef3509b7edb36c225102010e6cdcc036553e0b12bb7a3a677314a1638d1c0c643d272f08bb04a1a0d55a722981e37a9f5babf44673d32', '\x28b52ffd60df008d08001692371e70377928325ac2effe75f19bda4ec300010d241b2b4b4a58df5ec2ff7f372f002f003000557a957359b3e7b07300d4e2a4a480c54c6176ce00720888090b1db46cdf6cdf6b96ba941d15cbd6c156a51b7a19010208490e51d473be1c274652e27c92a7b5163352885bee292a250f3917a42471cf2d4ae176b610d4875fb687ef430b1e275db37cfca2ff389ab070c4b265b8a1ff0b046c1f21616c0b8774263cb1a6c160fbd40fa87f532c8935ebde7aca0b0d15632f2dce59f953c735cc96fa41ab4fe19313fefb1b2494f3dbe99a42aab2ebc3ff46a6b1d4df60d9061200530b58d83c56349c5d38a62a2e4d3636f6dc7e98a40da906e466e50e6c17aa6d7c2d4b8d21e186ae19f85970530a');
INSERT INTO legacy_keyed.ctxstore_packages VALUES ('ckpt-5064daa7963343fca4c11129a42ca82d', 'triage', 3, 4, 1796429956421098, '\x28b52ffd602901ed0a00169a4a1e6067f3304affd2b748d42f7e47daac3e047911da14498927709087205834410042004200679909f06bc1b66d12ffa65f1717056e3be33775724655a4b6d5bf399c17c4eaa0d7ea7449cc9774a4bf6d61742f3de93debdf4ca4cbb6559c71c5d5eaeff51a048c3b216748f3d1908b77c0c60ca91175db226a235cf39126fe32ee596da933eea533be67116a08051807c4691518b7033784040c889098c0124adbf6db41ff76fa36322691ce3dca93ae15b57d49309f6be84c780240f1a3953d5e9546da42ffa5a14fbaab71cf16cd8cc58732dc9f4260bb7a85f3eaf655bc875272c55442d860361c4807eafb4d4646a7ccf97b966b85ed14f12e9151ceda4ef72c4c46bfb4fa9098f9ad7e885a4ab143d10d174306c22f03cf931e78bdec31d8527aa153825ffa6ddb110065abc0530bf6d84eb8817317271f21e362496b1dfc26613549a3093587b6e81d54c6b17010f594cb9f3076ecd403', '\x28b52ffd60d4003d0800b690332050875607407fa3f6ec6acce237795232d8db99690bbfc05ecfd03c736666a50229002b002b006c15d222faec885ec484d1fd1c0031a4010a0d140d5642e9ec4b6cbd3f67669f9c67575e9b90993d233f477619089a2803b3538bb2ac1cc24ad86502e21c4a89d5526951836a2159966e42bc96d56415455ca20467e726ca9febd18bede348060b4e9c9dc1cc761f04d83b015fd316fc6454b0e2a7c1606fc90592bb0d38458da659d79a18a7b6dae647d92517b4d9f22d30be6e6e063e187b59fe1cd4843bfb756f3a8d4b6e821500533740d83c5634445d38a62a2e4d3636f6d07e18a30d8906e462350ec097a9625c0d4b8d21e186ae19781a934f57b629cdeaeaf4');
INSERT INTO legacy_keyed.ctxstore_packages VALUES ('ckpt-d70aad886bed4854bac3e243cb71fc2e', 'triage', 4, 5, 1796429956426691, '\x28b52ffd602701f50a00469a4b1e70a779108b44ca969be030c1efa4247b5c7d9ec2af6b2a4a785e06000818420043004200a800bf1e6cdb44e2cff4ab3298006a3be3337572c675a4b6d53ff19c1fc4eaa0d7ea7439cc5eb39e70a4bf6d61742f3de135db517906cbb6551ce18aabd5bb791102e93843183d86c8e8071b2b121beab6355436b8c4479af8cbb8a6684b1de15e3ac2d7ec39ed9c0034c0585a020cb501d4ce21284e21a1024b276ddb6707fdd969af591491ce35ca13aef5b47d6930db25e83cf80140f1c7ca1aaf0a236da1ff92a02dddd5b8660d66c7424f1deead10c8aeda70b4987d19dd2725574c25041d08150f61880309ebb9274246a7ccf96b16d50ad9a9e15d22a39c959dae594f8d20e3b55ac955f35bc5b1a03f761c90f918b0f04b417bc205cdcb9ac2580a2f746af00bf7b6953109100064abc0530bf6d84eb8817317271fe1e262296b1dfc26613549a30915878ae81d54c6b17010f5948b3c3ccd', '\x28b52ffd60db0095080006d237215087560740af83fa6b2b6c15bd3c291fc57155d58b6f04dbd45ff4211933b382012e002e002f0013f284d11d3da59612806248aa9000a6cda02d2581422228253095d4db9db8f41e9d11fbe47c7bf3960919b177044b6176cb6996974b58915d4612e79252bcd8528e2aaa05c661ba2a317356996d34714cd358416da2df9ee84d2c01511e5d07ddd81e0c184283156f773062bb0f03edad80ef591afc645cf0e2e8e1686fc90cc9bd10b8c5d193650aa24c0fe479d62d4f8c537bed73a4ed9219cb6cf91c185f3737023e187b591e1dd6843bfb75af428f4bee82b7f3131200530b40d83c56347c5d38a62a2e4d3636f6d07e18a30d8906e462350ec097a962780d4b8d21e186ae19785970530a');


--
-- Data for Name: ctxstore_projections_agents; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_projections_checkpoints; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_projections_evolution; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_projections_memories; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_projections_search; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_projections_tools; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_projections_tracking; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--

INSERT INTO legacy_keyed.ctxstore_projections_tracking VALUES ('__migration__', 1);


--
-- Data for Name: ctxstore_snapshots; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--



--
-- Data for Name: ctxstore_versions; Type: TABLE DATA; Schema: legacy_keyed; Owner: -
--

INSERT INTO legacy_keyed.ctxstore_versions VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 1, 1767261600000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 2, 1767348000000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 3, 1767434400000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 4, 1796429956363648);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('0b3099aa-76c8-54b0-ab10-fcc4f66e18a5', 5, 1796429956371157);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 1, 1767261600000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 2, 1767348000000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 3, 1767434400000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 4, 1796429956393164);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('1930c4dd-510a-5eb5-ba6a-05e4aaa42d76', 5, 1796429956400021);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 1, 1767261600000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 2, 1767348000000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 3, 1767434400000000);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 4, 1796429956421098);
INSERT INTO legacy_keyed.ctxstore_versions VALUES ('4ae1bc75-d41a-50e1-8465-fd89f1443e4d', 5, 1796429956426691);


--
-- Name: ctxstore_events_notification_id_seq; Type: SEQUENCE SET; Schema: legacy_keyed; Owner: -
--

SELECT pg_catalog.setval('legacy_keyed.ctxstore_events_notification_id_seq', 15, true);


--
-- Name: ctxstore_agents ctxstore_agents_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_agents
    ADD CONSTRAINT ctxstore_agents_pkey PRIMARY KEY (agent_id);


--
-- Name: ctxstore_dictionaries ctxstore_dictionaries_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_dictionaries
    ADD CONSTRAINT ctxstore_dictionaries_pkey PRIMARY KEY (dict_id);


--
-- Name: ctxstore_event_ids ctxstore_event_ids_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_event_ids
    ADD CONSTRAINT ctxstore_event_ids_pkey PRIMARY KEY (event_id);


--
-- Name: ctxstore_events ctxstore_events_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_events
    ADD CONSTRAINT ctxstore_events_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ctxstore_packages ctxstore_packages_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_packages
    ADD CONSTRAINT ctxstore_packages_pkey PRIMARY KEY (package_id);


--
-- Name: ctxstore_projections_agents ctxstore_projections_agents_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_agents
    ADD CONSTRAINT ctxstore_projections_agents_pkey PRIMARY KEY (agent_id);


--
-- Name: ctxstore_projections_checkpoints ctxstore_projections_checkpoints_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_checkpoints
    ADD CONSTRAINT ctxstore_projections_checkpoints_pkey PRIMARY KEY (package_id);


--
-- Name: ctxstore_projections_evolution ctxstore_projections_evolution_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_evolution
    ADD CONSTRAINT ctxstore_projections_evolution_pkey PRIMARY KEY (agent_id, bucket, start_us);


--
-- Name: ctxstore_projections_memories ctxstore_projections_memories_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_memories
    ADD CONSTRAINT ctxstore_projections_memories_pkey PRIMARY KEY (agent_id, memory_id);


--
-- Name: ctxstore_projections_search ctxstore_projections_search_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_search
    ADD CONSTRAINT ctxstore_projections_search_pkey PRIMARY KEY (agent_id, version, seq);


--
-- Name: ctxstore_projections_tools ctxstore_projections_tools_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_tools
    ADD CONSTRAINT ctxstore_projections_tools_pkey PRIMARY KEY (agent_id, bucket, start_us, tool);


--
-- Name: ctxstore_projections_tracking ctxstore_projections_tracking_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_projections_tracking
    ADD CONSTRAINT ctxstore_projections_tracking_pkey PRIMARY KEY (application_name);


--
-- Name: ctxstore_snapshots ctxstore_snapshots_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_snapshots
    ADD CONSTRAINT ctxstore_snapshots_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ctxstore_versions ctxstore_versions_pkey; Type: CONSTRAINT; Schema: legacy_keyed; Owner: -
--

ALTER TABLE ONLY legacy_keyed.ctxstore_versions
    ADD CONSTRAINT ctxstore_versions_pkey PRIMARY KEY (originator_id, originator_version);


--
-- Name: ctxstore_events_notification_id_idx; Type: INDEX; Schema: legacy_keyed; Owner: -
--

CREATE UNIQUE INDEX ctxstore_events_notification_id_idx ON legacy_keyed.ctxstore_events USING btree (notification_id);


--
-- Name: ctxstore_packages_agent; Type: INDEX; Schema: legacy_keyed; Owner: -
--

CREATE INDEX ctxstore_packages_agent ON legacy_keyed.ctxstore_packages USING btree (agent_id, created_us);


--
-- Name: ctxstore_projections_checkpoints_agent_idx; Type: INDEX; Schema: legacy_keyed; Owner: -
--

CREATE INDEX ctxstore_projections_checkpoints_agent_idx ON legacy_keyed.ctxstore_projections_checkpoints USING btree (agent_id, created_us);


--
-- Name: ctxstore_projections_search_tsv_idx; Type: INDEX; Schema: legacy_keyed; Owner: -
--

CREATE INDEX ctxstore_projections_search_tsv_idx ON legacy_keyed.ctxstore_projections_search USING gin (tsv);


--
-- PostgreSQL database dump complete
--

\unrestrict GYe4PTTIAa3v9jyhkg2Sr6tvg3awAeKdEGxdbk2nk6QMfIuUnRAf3Jay0TOVYiZ

