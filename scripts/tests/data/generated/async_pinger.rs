// Test data for scripts/tests/test_async.py, written by hand for this
// project: an async system that needs neither std nor alloc (core only),
// audited in the no_alloc shape, where every window -- the executor's work
// inside it included -- must read 0 on every thread.  __create takes an
// argument; ping() awaits YieldOnce (wakes, Pending once, then Ready).
#[allow(dead_code, non_camel_case_types, non_snake_case)]
mod _pinger_framec {
    use core::future::Future;
    use core::pin::Pin;
    use core::task::{Context, Poll};

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

    pub struct Pinger {
        __state: u8,
        pub pings: u32,
    }

    impl Pinger {
        pub async fn __create(start: u32) -> Self {
            YieldOnce(false).await;
            Self { __state: 0, pings: start }
        }

        pub fn later(&mut self, n: u32) -> impl Future<Output = u32> + '_ {
            async move {
                YieldOnce(false).await;
                self.pings = self.pings * n;
                self.pings
            }
        }

        pub async fn ping(&mut self, n: u32) -> u32 {
            match self.__state {
                0 => return self._s_Ready_ping(n).await,
                _ => {}
            }
            Default::default()
        }

        async fn _s_Ready_ping(&mut self, n: u32) -> u32 {
            YieldOnce(false).await;
            self.pings = self.pings + n;
            self.pings
        }
    }
}
pub use _pinger_framec::*;
