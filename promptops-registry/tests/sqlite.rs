//! The behaviour suite over HTTP against the embedded SQLite store.

mod behaviour;
mod common;

use common::Server;

macro_rules! suite {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let server = Server::sqlite().await;
            behaviour::$case(&server).await;
        }
    )*};
}

suite!(
    push_creates_a_draft_and_replays_idempotently,
    pushes_are_validated_like_the_build,
    bad_requests_are_json_errors_never_500,
    resolve_is_gated_by_mode,
    etags_answer_304,
    versions_are_numeric_and_paged,
    diff_is_unified_between_versions,
    promote_moves_one_stable_pointer,
    rollback_pops_the_stable_stack,
    roles_are_enforced_and_leave_state_unchanged,
    hostile_ids_and_refs_are_refused,
    concurrent_promotes_serialize,
    concurrent_creates_keep_one_text,
    readers_never_see_zero_or_two_stables_or_a_draft,
);
