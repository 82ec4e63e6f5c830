setup "load" load_ours
run_tap hmm_p2p_forkcoh "$BINDIR/hmm_p2p_forkcoh"
setup "unload" unload_ours
