// A turnstile in the shape of framec 4.x's Rust output, written by hand for
// scripts/tests/test_coverage_framec.py: a dispatcher `_state_S` per state
// whose match arms call the handler methods `_s_S_hdl_user_EVENT`,
// `_s_S_hdl_frame_enter` ($>) and `_s_S_hdl_frame_exit` (<$), and no
// mapping comment back to a .frs file.
//
// Frame source this stands for:
//   $Locked   { coin() { -> $Unlocked }  fail() { -> $Broken } }
//   $Unlocked { $>() { coins += 1 }  push() { passes += 1; -> $Locked } }
//   $Broken   { $>() { faults += 1 }  <$() { faults -= 1 }  repair() { -> $Locked } }

#[allow(dead_code)]
#[allow(non_snake_case)]
#[allow(unused_variables)]
#[allow(unused_mut)]
mod _turnstile_framec {
    extern crate alloc;
    use alloc::string::{String, ToString};

    #[derive(Clone, Debug)]
    #[allow(dead_code, non_camel_case_types)]
    enum TurnstileFrameEvent {
        Coin {},
        Push {},
        Fail {},
        Repair {},
        FrameEnter {},
        FrameExit {},
    }

    #[allow(dead_code, non_camel_case_types)]
    struct TurnstileCompartment {
        state: String,
    }

    impl TurnstileCompartment {
        fn new(state: &str) -> Self {
            Self { state: state.to_string() }
        }
    }

    #[allow(dead_code)]
    pub struct Turnstile {
        __compartment: TurnstileCompartment,
        __next_compartment: Option<TurnstileCompartment>,
        pub coins: i32,
        pub passes: i32,
        pub faults: i32,
    }

    #[allow(non_snake_case)]
    impl Turnstile {
        pub fn new() -> Self {
            Self {
                __compartment: TurnstileCompartment::new("Locked"),
                __next_compartment: None,
                coins: 0,
                passes: 0,
                faults: 0,
            }
        }

        pub fn __create() -> Self {
            let mut t = Self::new();
            t.__kernel(&TurnstileFrameEvent::FrameEnter {});
            t
        }

        fn __kernel(&mut self, __e: &TurnstileFrameEvent) {
            self.__router(__e);
            while let Some(next) = self.__next_compartment.take() {
                self.__router(&TurnstileFrameEvent::FrameExit {});
                self.__compartment = next;
                self.__router(&TurnstileFrameEvent::FrameEnter {});
            }
        }

        fn __router(&mut self, __e: &TurnstileFrameEvent) {
            match self.__compartment.state.as_str() {
                "Locked" => self._state_Locked(__e),
                "Unlocked" => self._state_Unlocked(__e),
                "Broken" => self._state_Broken(__e),
                _ => {}
            }
        }

        fn __transition(&mut self, next: TurnstileCompartment) {
            self.__next_compartment = Some(next);
        }

        pub fn coin(&mut self) {
            self.__kernel(&TurnstileFrameEvent::Coin {});
        }

        pub fn push(&mut self) {
            self.__kernel(&TurnstileFrameEvent::Push {});
        }

        pub fn fail(&mut self) {
            self.__kernel(&TurnstileFrameEvent::Fail {});
        }

        pub fn repair(&mut self) {
            self.__kernel(&TurnstileFrameEvent::Repair {});
        }

        fn _state_Locked(&mut self, __e: &TurnstileFrameEvent) {
            match __e {
                TurnstileFrameEvent::Coin { .. } => { self._s_Locked_hdl_user_coin(__e); }
                TurnstileFrameEvent::Fail { .. } => { self._s_Locked_hdl_user_fail(__e); }
                _ => {}
            }
        }

        fn _state_Unlocked(&mut self, __e: &TurnstileFrameEvent) {
            match __e {
                TurnstileFrameEvent::FrameEnter { .. } => { self._s_Unlocked_hdl_frame_enter(__e); }
                TurnstileFrameEvent::Push { .. } => { self._s_Unlocked_hdl_user_push(__e); }
                _ => {}
            }
        }

        fn _state_Broken(&mut self, __e: &TurnstileFrameEvent) {
            match __e {
                TurnstileFrameEvent::FrameEnter { .. } => { self._s_Broken_hdl_frame_enter(__e); }
                TurnstileFrameEvent::FrameExit { .. } => { self._s_Broken_hdl_frame_exit(__e); }
                TurnstileFrameEvent::Repair { .. } => { self._s_Broken_hdl_user_repair(__e); }
                _ => {}
            }
        }

        fn _s_Locked_hdl_user_coin(&mut self, __e: &TurnstileFrameEvent) {
            let next = TurnstileCompartment::new("Unlocked");
            self.__transition(next);
        }

        fn _s_Locked_hdl_user_fail(&mut self, __e: &TurnstileFrameEvent) {
            let next = TurnstileCompartment::new("Broken");
            self.__transition(next);
        }

        fn _s_Unlocked_hdl_frame_enter(&mut self, __e: &TurnstileFrameEvent) {
            self.coins = self.coins + 1;
        }

        fn _s_Unlocked_hdl_user_push(&mut self, __e: &TurnstileFrameEvent) {
            self.passes = self.passes + 1;
            let next = TurnstileCompartment::new("Locked");
            self.__transition(next);
        }

        fn _s_Broken_hdl_frame_enter(&mut self, __e: &TurnstileFrameEvent) {
            self.faults = self.faults + 1;
        }

        fn _s_Broken_hdl_frame_exit(&mut self, __e: &TurnstileFrameEvent) {
            self.faults = self.faults - 1;
        }

        fn _s_Broken_hdl_user_repair(&mut self, __e: &TurnstileFrameEvent) {
            let next = TurnstileCompartment::new("Locked");
            self.__transition(next);
        }
    }
}
pub use _turnstile_framec::*;
