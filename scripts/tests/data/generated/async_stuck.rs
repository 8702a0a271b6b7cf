// Test data for scripts/tests/test_async.py, written by hand for this
// project: async interface methods no executor without I/O can finish.
// wait() awaits a future that returns Pending without waking its waker
// (it waits for an event nobody will send); spin() one that wakes its
// waker and returns Pending on every poll.
#[allow(dead_code, non_camel_case_types, non_snake_case)]
mod _async_stuck_framec {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    struct NeverWoken;

    impl Future for NeverWoken {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }

    struct Spinning;

    impl Future for Spinning {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    pub struct Stuck {
        pub waits: u32,
    }

    impl Stuck {
        pub fn __create() -> Self {
            Self { waits: 0 }
        }

        pub fn poke(&mut self) {
            self.waits = self.waits + 0;
        }

        pub async fn wait(&mut self) {
            self.waits = self.waits + 1;
            NeverWoken.await;
        }

        pub async fn spin(&mut self) {
            Spinning.await;
        }
    }
}
pub use _async_stuck_framec::*;
