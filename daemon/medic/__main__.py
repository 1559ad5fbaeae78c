from medic.cli import main

main()
