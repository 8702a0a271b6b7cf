macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::PortReset::__create();
        s.connect();
        s.timeout();
        s.connect();
        s.reset_done();
        s.timeout(); // ignored in $Enabled
        vec![String::from("done")]
    }};
}
