// Test data for scripts/tests/test_async.py, written by hand for this
// project in the shape framec's Rust back end gives an async interface
// (`fetch(url: String): usize` marked async): `pub async fn` methods that
// route to async handlers and `.await` them.  A handler awaits YieldOnce,
// which stands in for an I/O wait that is already satisfied: it wakes its
// waker and returns Pending once, so the executor must poll again; then
// fetch() keeps a copy of the url (one allocation, in the poll) and drops
// the url and the copy it replaces (the frees).
#[allow(dead_code, unused_variables, non_camel_case_types, non_snake_case)]
mod _async_fetcher_framec {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    pub struct AsyncFetcher {
        __state: &'static str,
        pub fetched: usize,
        pub last: String,
    }

    impl AsyncFetcher {
        pub fn __create() -> Self {
            Self { __state: "Idle", fetched: 0, last: String::new() }
        }

        pub async fn fetch(&mut self, url: String) -> usize {
            match self.__state {
                "Idle" => return self._s_Idle_fetch(url).await,
                _ => {}
            }
            Default::default()
        }

        pub async fn idle(&mut self) {
            match self.__state {
                "Idle" => self._s_Idle_idle().await,
                _ => {}
            }
        }

        async fn _s_Idle_fetch(&mut self, url: String) -> usize {
            YieldOnce(false).await;
            self.fetched = self.fetched + 1;
            self.last = url.clone();
            url.len()
        }

        async fn _s_Idle_idle(&mut self) {
            YieldOnce(false).await;
        }
    }
}
pub use _async_fetcher_framec::*;
