"""The committed out/ tree: reading it as one state, and switching a verified new build into it in one atomic step
(the build lock, the commit protocol, recovery after a kill). Nothing here renders or decides."""
